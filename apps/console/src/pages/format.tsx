import type { Schemas } from '../api';

export function describeTrigger(t: Schemas['Trigger']): string {
  switch (t.type) {
    case 'branch':
      return `push to ${t.branch}`;
    case 'tag':
      return 'new tag';
    case 'anyBranch':
      return 'push to any branch';
    case 'refRegex':
      return `ref matches ${t.pattern}`;
  }
}

/** A table's column headings; a column given as `false` (one the session may not use) is left out. */
export const ColumnHeads = ({ names }: { names: Array<string | false> }) => (
  <thead>
    <tr>
      {names
        .filter((n): n is string => n !== false)
        .map((n) => (
          <th scope="col" key={n}>
            {n}
          </th>
        ))}
    </tr>
  </thead>
);

export const Status = ({ status }: { status: string }) => <span className={`status status-${status}`}>{status}</span>;

export function duration(from: string | null, to: string | null): string {
  if (!from) return '';
  const ms = (to ? Date.parse(to) : Date.now()) - Date.parse(from);
  return ms < 1000 ? `${ms} ms` : ms < 60_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
}

export const when = (iso: string | null): string => (iso ? new Date(iso).toLocaleString() : '');
