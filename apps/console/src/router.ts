import { useEffect, useState } from 'react';

/** Hash routes (`#/builds/<id>`, `#/builds?ruleId=…`): the gateway serves one page, and a reload keeps the place. */
function read(): { parts: string[]; query: URLSearchParams } {
  const [path, query = ''] = window.location.hash.replace(/^#\/?/, '').split('?');
  return { parts: path.split('/').filter(Boolean).map(decodeURIComponent), query: new URLSearchParams(query) };
}

export function useRoute(): { parts: string[]; query: URLSearchParams } {
  const [route, setRoute] = useState(read);
  useEffect(() => {
    const onChange = () => setRoute(read());
    window.addEventListener('hashchange', onChange);
    return () => window.removeEventListener('hashchange', onChange);
  }, []);
  return route;
}

export const href = (...parts: string[]): string => `#/${parts.map(encodeURIComponent).join('/')}`;
export const go = (...parts: string[]): void => {
  window.location.hash = href(...parts);
};
