import { setTimeout as sleep } from 'node:timers/promises';
import { StorageUnavailableError } from '../../domain/ports.js';

/**
 * Open while the database is known to be unreachable: every call fails at once instead of waiting for its own
 * timeout, and a probe in the background closes the circuit again as soon as the database answers.
 */
export class Circuit {
  private open = false;
  private stopped = false;
  private probing: Promise<void> | undefined;
  private wake: (() => void) | undefined;

  constructor(
    private readonly probe: () => Promise<void>,
    private readonly probeIntervalMs: number,
    private readonly onChange: (status: 'unreachable' | 'reachable', err?: unknown) => void = () => undefined,
  ) {}

  get isOpen(): boolean {
    return this.open;
  }

  /** Throws StorageUnavailableError while the circuit is open. */
  check(): void {
    if (this.open) throw new StorageUnavailableError('postgres: unreachable (probing in the background)');
  }

  /** A call found the database unreachable: open, and probe until it answers. */
  trip(err: unknown): void {
    if (this.open || this.stopped) return;
    this.open = true;
    this.onChange('unreachable', err);
    this.probing = this.run();
  }

  private async run(): Promise<void> {
    while (this.open && !this.stopped) {
      const timer = new AbortController();
      this.wake = () => timer.abort();
      await sleep(this.probeIntervalMs, undefined, { signal: timer.signal }).catch(() => undefined);
      if (this.stopped) return;
      try {
        await this.probe();
        this.open = false;
        this.onChange('reachable');
      } catch {
        // Still unreachable: try again after the interval.
      }
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    await this.probing;
  }
}
