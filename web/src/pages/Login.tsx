import { useState } from "preact/hooks";
import { ApiError, postJson } from "../api.js";

/**
 * Signs in with a read token or (serve --kube-auth) a Kubernetes token; the server answers with
 * a session cookie this page never sees.
 */
export function Login({ onLogin }: { onLogin: () => void }) {
  const [token, setToken] = useState("");
  const [error, setError] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);
  return (
    <main class="login">
      <h1>kubetrail</h1>
      <p>The tamper-evident audit trail of your cluster.</p>
      <form
        onSubmit={async (e) => {
          e.preventDefault();
          setBusy(true);
          setError(undefined);
          try {
            await postJson("/ui/api/login", { token });
            setToken("");
            onLogin();
          } catch (err) {
            setError(err instanceof ApiError ? err.message : String(err));
          } finally {
            setBusy(false);
          }
        }}
      >
        <label for="token">Token</label>
        <input
          id="token"
          name="token"
          type="password"
          autocomplete="current-password"
          value={token}
          required
          onInput={(e) => setToken((e.target as HTMLInputElement).value)}
        />
        <p class="muted small">
          The server's read token (DATA/read-token, or a token from --read-token-file), or, when the server
          accepts Kubernetes identities (--kube-auth), your Kubernetes token (an OIDC ID token or a
          service-account token): you then see the namespaces RBAC lets you read. It is exchanged for a
          session cookie; the page never stores it.
        </p>
        <button type="submit" disabled={busy}>
          {busy ? "Signing in…" : "Sign in"}
        </button>
        {error && (
          <p class="error" role="alert">
            {error}
          </p>
        )}
      </form>
    </main>
  );
}
