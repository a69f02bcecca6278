// Small pieces every screen uses: cards, loading / empty / error states, a data hook.
import type { ComponentChildren } from "preact";
import { useEffect, useState } from "preact/hooks";
import { toUiError, type UiError } from "./api";
import { wrapPoints } from "./format";

export function Card(props: { title?: string; actions?: ComponentChildren; children: ComponentChildren; class?: string }) {
  return (
    <section class={`card ${props.class ?? ""}`}>
      {(props.title || props.actions) && (
        <header class="card-head">
          {props.title && <h2>{props.title}</h2>}
          <div class="card-actions">{props.actions}</div>
        </header>
      )}
      {props.children}
    </section>
  );
}

export function Loading(props: { what: string }) {
  return <p class="state loading" role="status">Loading {props.what}…</p>;
}

export function Empty(props: { children: ComponentChildren }) {
  return <div class="state empty">{props.children}</div>;
}

export function ErrorBox(props: { error: UiError; retry?: () => void }) {
  return (
    <div class="state error" role="alert">
      <strong>Something went wrong.</strong> {props.error.message}
      {props.retry && (
        <button class="link" onClick={props.retry}>
          Try again
        </button>
      )}
    </div>
  );
}

/** Loads `fetch()` whenever `deps` change (including the global refresh tick). */
export function useData<T>(fetch: () => Promise<T>, deps: unknown[]) {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<UiError | null>(null);
  const [n, setN] = useState(0);
  useEffect(() => {
    let live = true;
    fetch()
      .then((d) => live && (setData(d), setError(null)))
      .catch((e) => live && setError(toUiError(e)));
    return () => {
      live = false;
    };
  }, [...deps, n]);
  return { data, error, reload: () => setN((x) => x + 1) };
}

/** A form's inline message: an error in place, or a confirmation. */
export function Notice(props: { error?: string | null; ok?: string | null }) {
  if (props.error) return <p class="notice bad" role="alert">{props.error}</p>;
  if (props.ok) return <p class="notice good" role="status">{props.ok}</p>;
  return null;
}

/** Text (a request, an address) that may wrap only at its own separators: see `wrapPoints`. */
export function Wrapping({ text }: { text: string }) {
  return <>{wrapPoints(text).map((p, i) => (i === 0 ? p : <><wbr />{p}</>))}</>;
}
