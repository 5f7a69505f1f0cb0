import { useEffect, useRef, useState } from 'react';
import { canWrite, ok, type Build, type Session } from '../api';
import { Alert, useAction, useLoad } from '../hooks';
import { go, href } from '../router';
import { ColumnHeads, duration, Status, when } from './format';

const STATUSES = ['queued', 'running', 'succeeded', 'failed', 'cancelled'] as const;

export const triggerText = (b: Build): string =>
  b.trigger.kind === 'push' ? `push (${b.trigger.provider} delivery ${b.trigger.deliveryId})` : b.trigger.kind === 'manual' ? `build now by ${b.trigger.by}` : `rebuild by ${b.trigger.by}`;

/** Build history across repositories, or of one rule (`?ruleId=`), with filters; refreshes while builds run. */
export function Builds({ session, query }: { session: Session; query: URLSearchParams }) {
  const ruleId = query.get('ruleId') ?? undefined;
  const [status, setStatus] = useState<(typeof STATUSES)[number] | ''>('');
  const [ref, setRef] = useState('');
  const [repository, setRepository] = useState(query.get('repository') ?? '');
  const builds = useLoad(
    async () =>
      ok(await session.client.GET('/api/v1/builds', { params: { query: { ruleId, status: status || undefined, ref: ref || undefined, repository: repository || undefined, limit: 100 } } })).items,
    [ruleId, status, ref, repository],
  );
  const running = builds.data?.some((b) => b.status === 'queued' || b.status === 'running');
  // New builds appear without a reload (a push can start one at any time); faster while one runs.
  usePoll(running ? 1500 : 4000, builds.reload);
  return (
    <section>
      <h1>Builds{ruleId ? ' of a rule' : ''}</h1>
      <form className="inline filters" onSubmit={(e) => e.preventDefault()} aria-label="Filters">
        <label>
          Status
          <select value={status} onChange={(e) => setStatus(e.target.value as typeof status)}>
            <option value="">any</option>
            {STATUSES.map((s) => (
              <option key={s}>{s}</option>
            ))}
          </select>
        </label>
        <label>
          Ref <input value={ref} onChange={(e) => setRef(e.target.value)} placeholder="refs/heads/main" />
        </label>
        <label>
          Image repository <input value={repository} onChange={(e) => setRepository(e.target.value)} placeholder="namespace/name" />
        </label>
      </form>
      <Alert text={builds.error} />
      <table>
        <ColumnHeads names={['Status', 'Image repository', 'Ref', 'Commit', 'Trigger', 'Tags', 'Duration', 'Created']} />
        <tbody>
          {builds.data?.map((b) => (
            <tr key={b.id}>
              <td>
                <a href={href('builds', b.id)} aria-label={`build ${b.id} ${b.status}`}>
                  <Status status={b.status} />
                </a>
              </td>
              <td>{b.imageRepository}</td>
              <td>{b.ref}</td>
              <td>
                <code>{b.commit.slice(0, 7)}</code>
              </td>
              <td>{triggerText(b)}</td>
              <td>{b.tags.map((t) => t.split(':').pop()).join(', ')}</td>
              <td>{duration(b.startedAt, b.finishedAt)}</td>
              <td>{when(b.createdAt)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {builds.data?.length === 0 && <p>No builds.</p>}
    </section>
  );
}

/** Calls `f` every `ms` while `ms` is set. */
export function usePoll(ms: number | null, f: () => void): void {
  const latest = useRef(f);
  latest.current = f;
  useEffect(() => {
    if (ms === null) return;
    const timer = setInterval(() => latest.current(), ms);
    return () => clearInterval(timer);
  }, [ms]);
}

/** Delete and rebuild, for a build's page. */
export function BuildActions({ session, build, onChanged }: { session: Session; build: Build; onChanged: () => void }) {
  const action = useAction();
  if (!canWrite(session)) return null;
  const finished = ['succeeded', 'failed', 'cancelled'].includes(build.status);
  return (
    <div className="actions">
      {finished && !build.ruleDeleted && (
        <button type="button" onClick={() => action.run(async () => go('builds', ok(await session.client.POST('/api/v1/builds/{id}/rebuild', { params: { path: { id: build.id } } })).buildId))}>
          Rebuild
        </button>
      )}
      {!finished && (
        <button type="button" onClick={() => action.run(async () => (ok(await session.client.POST('/api/v1/builds/{id}/cancel', { params: { path: { id: build.id } } })), onChanged()))}>
          Cancel
        </button>
      )}
      {finished && (
        <button
          type="button"
          className="danger"
          onClick={() => {
            if (window.confirm('Delete this build record and its log?'))
              void action.run(async () => (ok(await session.client.DELETE('/api/v1/builds/{id}', { params: { path: { id: build.id } } })), go('builds')));
          }}
        >
          Delete
        </button>
      )}
      <Alert text={action.error} />
    </div>
  );
}
