/** Whether a value a user gave reads as a negative number (`-1`, ` -5s`): its message then says so, not that it is no number at all. */
export const looksNegative = (value: string | number): boolean => /^\s*-\d/.test(String(value));
