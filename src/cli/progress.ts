import cliProgress from 'cli-progress';
import type { CellResult } from '../run/cell.js';

export type ProgressMode = 'bar' | 'lines' | 'quiet';

/** A bar on a terminal, a line every few seconds otherwise (CI logs), only errors when quiet. */
export function progressMode(quiet: boolean): ProgressMode {
  return quiet ? 'quiet' : process.stderr.isTTY ? 'bar' : 'lines';
}

/**
 * Progress of a run: cells done, events/s of the replays so far, ETA. Failed cells are always
 * reported on stderr with their error, whatever the mode.
 */
export class Progress {
  private bar: cliProgress.SingleBar | null = null;
  private events = 0;
  private replayMs = 0;
  private lastLine = 0;
  private readonly start = Date.now();

  constructor(private readonly mode: ProgressMode, private readonly intervalMs = 5000) {}

  cell(r: CellResult, done: number, total: number): void {
    if (r.status !== 'ok') {
      this.bar?.stop();
      process.stderr.write(`failed: ${r.cell.trace} ${r.cell.machine} ${r.cell.page} ${r.cell.object} seed=${r.cell.seed}: ${r.error}\n`);
      if (this.bar) this.bar = null;
    }
    this.events += r.events;
    this.replayMs += r.wall.replay_ms;
    const eps = this.replayMs > 0 ? ((this.events / this.replayMs) * 1000) / 1e6 : 0;
    if (this.mode === 'bar') {
      if (!this.bar) {
        this.bar = new cliProgress.SingleBar({
          format: 'cells {bar} {value}/{total} | {eps} M events/s | ETA {eta_formatted}',
          stream: process.stderr,
          hideCursor: true,
        }, cliProgress.Presets.shades_classic);
        this.bar.start(total, done - 1, { eps: '0.00' });
      }
      this.bar.update(done, { eps: eps.toFixed(2) });
      if (done === total) this.bar.stop();
    } else if (this.mode === 'lines') {
      const now = Date.now();
      if (done === total || now - this.lastLine >= this.intervalMs) {
        this.lastLine = now;
        const elapsed = (now - this.start) / 1000;
        const eta = done > 0 ? Math.round((elapsed / done) * (total - done)) : 0;
        process.stderr.write(`[${done}/${total}] cells done, ${eps.toFixed(2)} M events/s, ETA ${eta}s\n`);
      }
    }
  }
}
