/**
 * Calls `probe` until it returns a value (not undefined) or the deadline passes; then returns
 * undefined. The interval starts short and grows, so fast events are seen fast and slow ones
 * cost little.
 */
export async function pollUntil<T>(probe: () => Promise<T | undefined> | T | undefined, deadline: number): Promise<T | undefined> {
  let interval = 5;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() >= deadline) return undefined;
    await new Promise((r) => setTimeout(r, Math.min(interval, Math.max(1, deadline - Date.now()))));
    interval = Math.min(interval * 2, 50);
  }
}
