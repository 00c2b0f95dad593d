import cliProgress from 'cli-progress';
import type { CellResult } from '../run/cell.js';
import type { Work } from '../run/runner.js';

export type ProgressMode = 'bar' | 'lines' | 'quiet';

/** A bar on a terminal, a line every few seconds otherwise (CI logs), only errors when quiet. */
export function progressMode(quiet: boolean): ProgressMode {
  return quiet ? 'quiet' : process.stderr.isTTY ? 'bar' : 'lines';
}

/**
 * Progress of a run: cells done, events/s of the replays so far, ETA. Failed cells are always
 * reported on stderr with their error, whatever the mode.
 *
 * The ETA counts work, not cells: the runner's estimate of each cell's cost (run/cell-cost.ts), so a
 * run of cells of unequal sizes, costliest first, is not taken for one of equal cells. Its rate is
 * the work done since the first cell ended over the time since: before that the workers start, load
 * the inputs and compile the replay, which the cells after do not repeat (npm start's first line gave
 * "ETA 665s" for a run of 12 s when it divided the time so far by the cells done). The first cell's
 * line has no ETA.
 */
export class Progress {
  private bar: cliProgress.SingleBar | null = null;
  private events = 0;
  private replayMs = 0;
  private lastLine = 0;
  /** when the first cell ended, and the work done then */
  private first: { at: number; work: number } | null = null;

  constructor(private readonly mode: ProgressMode, private readonly intervalMs = 5000) {}

  /** `work`: the estimated work done and in all (runner.ts); without it, each cell counts one */
  cell(r: CellResult, done: number, total: number, work: Work = { done, total }): void {
    if (r.status !== 'ok') {
      this.bar?.stop();
      process.stderr.write(`failed: ${r.cell.trace} ${r.cell.machine} ${r.cell.page} ${r.cell.object} seed=${r.cell.seed}: ${r.error}\n`);
      if (this.bar) this.bar = null;
    }
    this.events += r.events;
    this.replayMs += r.wall.replay_ms;
    const eps = this.replayMs > 0 ? ((this.events / this.replayMs) * 1000) / 1e6 : 0;
    if (this.mode === 'bar') {
      // the bar's length and cli-progress's ETA in work; the cells shown beside
      if (!this.bar) {
        this.bar = new cliProgress.SingleBar({
          format: 'cells {bar} {cells}/{cellsTotal} | {eps} M events/s | ETA {eta_formatted}',
          stream: process.stderr,
          hideCursor: true,
        }, cliProgress.Presets.shades_classic);
        this.bar.start(work.total, work.done, { eps: eps.toFixed(2), cells: done, cellsTotal: total });
      } else {
        this.bar.update(work.done, { eps: eps.toFixed(2), cells: done, cellsTotal: total });
      }
      if (done === total) this.bar.stop();
    } else if (this.mode === 'lines') {
      const now = Date.now();
      const eta = this.eta(now, work);
      if (done === total || now - this.lastLine >= this.intervalMs) {
        this.lastLine = now;
        process.stderr.write(`[${done}/${total}] cells done, ${eps.toFixed(2)} M events/s${eta === null ? '' : `, ETA ${eta}s`}\n`);
      }
    }
  }

  /** Seconds left at the rate of the work done since the first cell ended (null at the first). */
  private eta(now: number, work: Work): number | null {
    if (this.first === null) {
      this.first = { at: now, work: work.done };
      return work.done >= work.total ? 0 : null;
    }
    const rate = (work.done - this.first.work) / Math.max(1, now - this.first.at);
    return rate > 0 ? Math.round((work.total - work.done) / rate / 1000) : null;
  }
}
