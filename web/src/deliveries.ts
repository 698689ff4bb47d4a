/**
 * Delivery receipts, gathered: what reached this tab is named to the server a chat at a time, up
 * to 100 message ids per `delivered` event, a moment after it arrived. A tab catching up by sync
 * receives up to 500 messages in one answer; an event each would spend its socket's rate limit
 * (a burst of 30, then 10 events a second) on receipts, the refused ones would never be
 * recorded, and the messages this user then sends would wait behind them.
 */
import type { Ack } from './types';

/** Most ids one event may name (the server's `MAX_DELIVERED_IDS`). */
export const MAX_IDS = 100;
/** How long ids gather before they are sent: a busy chat's messages go in one event. */
const GATHER_MS = 300;
/** Errors worth a retry; any other refusal (not a member any more, …) drops the ids. */
const RETRY = ['unavailable', 'rate_limited', 'internal'];

/** Sends one `delivered` event; rejects when there is no connection or no answer in time. */
export type SendDelivered = (chatId: string, messageIds: string[]) => Promise<Ack<object>>;

export class DeliveryQueue {
  private pending = new Map<string, Set<string>>();
  private timer?: ReturnType<typeof setTimeout>;
  private sending = false;

  constructor(private readonly send: SendDelivered) {}

  /** Queues a received message's id; it is sent within a moment. */
  add(chatId: string, messageId: string): void {
    let ids = this.pending.get(chatId);
    if (!ids) this.pending.set(chatId, (ids = new Set()));
    ids.add(messageId);
    this.schedule(GATHER_MS);
  }

  /** Drops everything queued (the user logged out). */
  clear(): void {
    this.pending.clear();
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  /**
   * Sends what is queued, a chat and at most {@link MAX_IDS} ids at a time. What fails to send
   * stays queued: it goes after the `retryAfter` of a `rate_limited` answer, 3 s after any other
   * failure, or on the next reconnect (which calls this).
   */
  async flush(): Promise<void> {
    if (this.sending) return; // the running flush sends what was added meanwhile
    this.sending = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    try {
      for (let next = this.next(); next; next = this.next()) {
        const [chatId, ids] = next;
        let ack: Ack<object>;
        try {
          ack = await this.send(chatId, ids);
        } catch {
          this.schedule(3000);
          return;
        }
        if (!ack.ok && RETRY.includes(ack.error.code)) {
          this.schedule((ack.error.retryAfter ?? 3) * 1000);
          return;
        }
        const queued = this.pending.get(chatId);
        for (const id of ids) queued?.delete(id);
        if (queued?.size === 0) this.pending.delete(chatId);
      }
    } finally {
      this.sending = false;
    }
  }

  private next(): [string, string[]] | undefined {
    for (const [chatId, ids] of this.pending) return [chatId, [...ids].slice(0, MAX_IDS)];
    return undefined;
  }

  private schedule(ms: number): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.flush();
    }, ms);
  }
}
