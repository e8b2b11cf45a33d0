/**
 * Re-runs a refresh while the caller says there is something to follow. A tick that falls in a hidden tab asks
 * nothing; the refresh happens as soon as the tab is shown again. No DOM here: the host supplies timers and
 * visibility, so unit tests drive it with a fake one.
 */
export interface PollHost {
  setTimeout(run: () => void, ms: number): number;
  clearTimeout(id: number): void;
  hidden(): boolean;
}

export class Poller {
  private timer: number | undefined;
  private missedWhileHidden = false;

  constructor(
    private readonly host: PollHost,
    private readonly intervalMs: number,
    private readonly refresh: () => void,
  ) {}

  /** After a refresh: `keepGoing` false (nothing open any more) stops the polling. */
  next(keepGoing: boolean): void {
    this.stop();
    if (!keepGoing) return;
    this.timer = this.host.setTimeout(() => {
      this.timer = undefined;
      if (this.host.hidden()) this.missedWhileHidden = true;
      else this.refresh();
    }, this.intervalMs);
  }

  /** A refresh started some other way (a button, an action) replaces the pending tick. */
  stop(): void {
    if (this.timer !== undefined) this.host.clearTimeout(this.timer);
    this.timer = undefined;
    this.missedWhileHidden = false;
  }

  /** On visibilitychange. */
  visibilityChanged(): void {
    if (this.host.hidden() || !this.missedWhileHidden) return;
    this.missedWhileHidden = false;
    this.refresh();
  }
}
