import { AnswerBuffers, type LentBuffer } from './answer-buffers.js';
import { parseListing, type KeptListing } from './consul-listing.js';
import type { PrefixReading } from './consul-loop.js';

/** Per prefix: its last listing, which the next answer is read against, and the buffers its answers are read into. */
export class KeptListings {
  private readonly kept = new Map<string, { listing: KeptListing; pairs: PrefixReading['pairs'] }>();
  private readonly buffers = new AnswerBuffers();

  /** A buffer for the prefix's next answer (never the one its last listing is read from). */
  lend(prefix: string): LentBuffer {
    return this.buffers.lend(prefix, this.kept.get(prefix)?.listing.body);
  }

  /** The prefix holds no key now. */
  forget(prefix: string): void {
    this.kept.delete(prefix);
  }

  /** The prefix is no longer read: its listing and buffers go. */
  drop(prefix: string): void {
    this.kept.delete(prefix);
    this.buffers.drop(prefix);
  }

  /** The pairs of a listing, read against the last one (consul-listing.ts), and which keys changed since, when known. */
  read(prefix: string, body: Buffer, fail: (what: string) => Error): Omit<PrefixReading, 'index'> {
    const last = this.kept.get(prefix);
    const { pairs, kept, changed } = parseListing(body, fail, last?.listing);
    this.kept.set(prefix, { listing: kept, pairs });
    return { pairs, ...(changed && last && { changed: { base: last.pairs, keys: changed } }) };
  }
}
