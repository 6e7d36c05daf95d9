/**
 * Live progress of a run: one line (phase, elapsed time, window countdown, last observed store
 * state) redrawn in place on a terminal, or printed as plain lines when output is not a terminal
 * (a log file, CI), once per change.
 */
import { formatDuration } from '../domain/duration';
import type { MaintenanceStatus } from '../domain/status';
import { terminalText } from './terminal-text';

/**
 * The progress line of a run. Every part is made safe to print (`terminalText`, on one line): the
 * live printer redraws it in place with its own control sequence, which nothing in it may disturb.
 */
export function progressLine(status: MaintenanceStatus, nowMs: number = Date.now()): string {
  const started = status.timeline[0]?.startedAt;
  const elapsed = started ? formatDuration(nowMs - Date.parse(started)) : '0s';
  const parts = [`${status.customKeyStoreId}`, status.outcome ?? status.phase, `elapsed ${elapsed}`];
  if (status.phase === 'IN_WINDOW' && status.window.endsAt) {
    parts.push(`window ends in ${formatDuration(Math.max(0, Date.parse(status.window.endsAt) - nowMs))}`);
  }
  if (status.store.lastObservedState) parts.push(`store ${status.store.lastObservedState}`);
  if (status.connectAttempts > 1) parts.push(`connect attempt ${status.connectAttempts}`);
  return parts.map((part) => terminalText(part, { singleLine: true })).join(' · ');
}

export interface ProgressPrinter {
  update(status: MaintenanceStatus): void;
  done(): void;
}

export function progressPrinter(stream: NodeJS.WriteStream = process.stdout): ProgressPrinter {
  const live = stream.isTTY === true;
  let lastKey = '';
  let drawn = false;
  return {
    update(status) {
      const line = progressLine(status);
      if (live) {
        // The CLI's own redraw (carriage return, erase line); `line` holds no control characters.
        stream.write(`\r\x1b[2K${line}`);
        drawn = true;
        return;
      }
      const key = `${status.phase}|${status.outcome ?? ''}|${status.store.lastObservedState ?? ''}|${status.window.endsAt ?? ''}`;
      if (key !== lastKey) {
        stream.write(`${new Date().toISOString()} ${line}\n`);
        lastKey = key;
      }
    },
    done() {
      if (live && drawn) stream.write('\n');
    },
  };
}
