import { canWrite, ok, type Session } from '../api';
import { Alert, useAction, useLoad } from '../hooks';
import { href } from '../router';
import { ColumnHeads, when } from './format';

/** The webhook ledger: each delivery, its decision per rule, and redelivery. */
export function Events({ session }: { session: Session }) {
  const events = useLoad(async () => ok(await session.client.GET('/api/v1/events', { params: { query: { limit: 50 } } })).items, []);
  const action = useAction();
  return (
    <section>
      <h1>Webhook events</h1>
      <Alert text={events.error ?? action.error} />
      <table>
        <ColumnHeads names={['Received', 'Outcome', 'Repository', 'Ref', 'Decisions', canWrite(session) && 'Actions']} />
        <tbody>
          {events.data?.map((e) => (
            <tr key={e.id}>
              <td>{when(e.receivedAt)}</td>
              <td>
                {e.outcome} ({e.status}){e.reason ? ` — ${e.reason}` : ''}
              </td>
              <td>{e.repository}</td>
              <td>{e.ref}</td>
              <td>
                <EventDecisions session={session} id={e.id} />
              </td>
              {canWrite(session) && (
                <td>
                  {e.outcome === 'accepted' && (
                    <button type="button" onClick={() => action.run(async () => (ok(await session.client.POST('/api/v1/events/{id}/redeliver', { params: { path: { id: e.id } } })), events.reload()))}>
                      Redeliver
                    </button>
                  )}
                </td>
              )}
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

function EventDecisions({ session, id }: { session: Session; id: string }) {
  const event = useLoad(async () => ok(await session.client.GET('/api/v1/events/{id}', { params: { path: { id } } })), [id]);
  return (
    <ul className="plain">
      {event.data?.decisions?.map((d, i) => (
        <li key={i}>
          {d.decision}
          {d.reason ? `: ${d.reason}` : ''}
          {d.buildId && (
            <>
              {' '}
              (<a href={href('builds', d.buildId)}>build</a>)
            </>
          )}
        </li>
      ))}
    </ul>
  );
}
