/** Wire shapes of `events.subscribe` and of the notifications it delivers. */

export interface SubscribeResult {
  subscription: string;
  topics: string[];
}
