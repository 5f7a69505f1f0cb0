import { useEffect, useState } from 'react';
import { forgetToken, savedToken, signIn, type Session } from './api';
import { href, useRoute } from './router';
import { SignIn } from './pages/SignIn';
import { Sources } from './pages/Sources';
import { Repository, Repositories } from './pages/Repositories';
import { Builds } from './pages/Builds';
import { BuildDetail } from './pages/BuildDetail';
import { Events } from './pages/Events';

export function App() {
  const [session, setSession] = useState<Session | null>(null);
  const [restoring, setRestoring] = useState(() => savedToken() !== null);
  const route = useRoute();

  useEffect(() => {
    const token = savedToken();
    if (!token) return;
    signIn(token)
      .then(setSession)
      .catch(() => forgetToken())
      .finally(() => setRestoring(false));
  }, []);

  if (restoring) return <p className="page">Signing in…</p>;
  if (!session) return <SignIn onSignedIn={setSession} />;

  const [section, a, b] = route.parts;
  const nav = [
    ['repositories', 'Image repositories'],
    ['builds', 'Builds'],
    ['sources', 'Code sources'],
    ['events', 'Webhook events'],
  ];
  return (
    <>
      <header className="top">
        <strong className="brand">Kiln</strong>
        <nav aria-label="Main">
          {nav.map(([key, label]) => (
            <a key={key} href={href(key)} aria-current={(section ?? 'repositories') === key ? 'page' : undefined}>
              {label}
            </a>
          ))}
        </nav>
        <span className="who">
          {session.name} · {session.role}
          {session.role === 'read' && <span className="badge">read-only</span>}
          <button
            type="button"
            className="link"
            onClick={() => {
              forgetToken();
              setSession(null);
            }}
          >
            Sign out
          </button>
        </span>
      </header>
      <main className="page">
        {section === 'sources' && <Sources session={session} />}
        {section === 'builds' && !a && <Builds session={session} query={route.query} />}
        {section === 'builds' && a && <BuildDetail session={session} id={a} />}
        {section === 'events' && <Events session={session} />}
        {section === 'repositories' && a && b && <Repository session={session} namespace={a} name={b} />}
        {(!section || (section === 'repositories' && !(a && b))) && <Repositories session={session} />}
      </main>
    </>
  );
}
