// Agents: add one, copy the line that starts it in its sandbox or its proxy settings (shown again at any time
// with the key it has), copy the MCP configuration a desktop assistant or coding agent reads, rotate its key
// (asked first: it cuts off the agent), see its spend.
import { useState } from "preact/hooks";
import { api, toUiError } from "../api";
import type { ScreenProps } from "../screen";
import { Card, Empty, ErrorBox, Loading, Notice, useData } from "../components";
import { sats } from "../format";
import type { AgentKey } from "../bindings/AgentKey";
import type { McpSetup } from "../bindings/McpSetup";

export function AgentsScreen({ tick, refresh }: ScreenProps) {
  const { data, error, reload } = useData(() => api.agents(), [tick]);
  const [name, setName] = useState("");
  const [key, setKey] = useState<AgentKey | null>(null);
  const [mcp, setMcp] = useState<McpSetup | null>(null);
  const [msg, setMsg] = useState<{ error?: string; ok?: string }>({});
  // "New key" cuts off whoever uses the old one: asked first, in place.
  const [rotating, setRotating] = useState<string | null>(null);
  const add = (e: Event) => {
    e.preventDefault();
    if (!/^[A-Za-z0-9._-]{1,64}$/.test(name)) {
      return setMsg({ error: "Names are 1–64 letters, digits, '-', '_' or '.' (they go into proxy URLs)." });
    }
    api.addAgent(name).then((k) => (setKey(k), setName(""), setMsg({}), refresh()), (err) => setMsg({ error: toUiError(err).message }));
  };
  const copy = (text: string) => navigator.clipboard?.writeText(text).then(() => setMsg({ ok: "Copied." }), () => setMsg({ error: "Copying was not allowed; select the text instead." }));
  return (
    <div class="screen">
      <h1>Agents</h1>
      <Card title="Add an agent">
        <form class="form" onSubmit={add}>
          <label>Name<input value={name} placeholder="research" onInput={(e) => setName(e.currentTarget.value)} /></label>
          <button class="primary" type="submit">Add</button>
        </form>
        <Notice error={msg.error} ok={msg.ok} />
        {key && (
          <div class="key">
            <p><strong>{key.name}</strong>'s key: <code>{key.key}</code></p>
            <p>
              Start the agent with this line, putting its own command for <code>COMMAND</code>: it then runs in a
              sandbox where it cannot read Purser's files or your keyring, approve its own payments or change your
              limits.
            </p>
            <pre data-testid="run-line">{key.run}</pre>
            <button onClick={() => copy(key.run)}>Copy the line</button>
            <p>
              Or set these in a shell the agent runs from (it then runs as you, with nothing kept from it);{" "}
              <code>{key.env_line}</code> prints the same lines again later:
            </p>
            <pre>{key.env}</pre>
            <button onClick={() => copy(key.env)}>Copy proxy settings</button>
          </div>
        )}
      </Card>
      {mcp && (
        <Card title={`MCP for ${mcp.name}`}>
          <div class="key" data-testid="mcp-setup">
            <p>
              For desktop assistants and coding agents that take tools over MCP: put this in the client's MCP
              configuration (its <code>mcpServers</code>). It starts Purser's tools inside {mcp.name}'s sandbox
              and holds no key. The agent can then check its budget, get quotes, ask you for a task allowance and
              make paid calls — each one under your limits and approvals, in the ledger as {mcp.name}.
            </p>
            <pre data-testid="mcp-stdio">{mcp.stdio}</pre>
            <button onClick={() => copy(mcp.stdio)}>Copy MCP configuration</button>
            <p>
              For clients that take a URL instead: Streamable HTTP on Purser's port. This one holds {mcp.name}'s
              key: any program that can read the file you put it in can spend as {mcp.name}, other agents started
              with <code>purser run</code> among them (they can read your home folder). Prefer the form above.
            </p>
            <pre data-testid="mcp-http">{mcp.http}</pre>
            <button onClick={() => copy(mcp.http)}>Copy HTTP configuration</button>
            <p><code>{mcp.print_line}</code> prints both again.</p>
            <button class="link" onClick={() => setMcp(null)}>Close</button>
          </div>
        </Card>
      )}
      <Card title="Agents">
        {error ? <ErrorBox error={error} retry={reload} /> : !data ? <Loading what="agents" /> : data.length === 0 ? (
          <Empty>No agents yet. Add one, then point it at Purser with the lines shown.</Empty>
        ) : (
          <table class="table">
            <thead><tr><th>Name</th><th class="num">Spent</th><th>State</th><th>Start it with</th><th /></tr></thead>
            <tbody>
              {data.map((a) => (
                <tr>
                  <td>{a.agent.name}</td>
                  <td class="num">{sats(a.spent_msat)}</td>
                  <td>{a.agent.paused ? "paused" : "running"}</td>
                  <td><code>{a.run}</code> <button class="link" onClick={() => copy(a.run)}>Copy</button></td>
                  <td>
                    <button class="link" onClick={() => api.setPaused(a.agent.name, !a.agent.paused).then(refresh)}>{a.agent.paused ? "Resume" : "Pause"}</button>{" "}
                    <button class="link" data-testid={`mcp-${a.agent.name}`} onClick={() => api.agentMcp(a.agent.name).then(setMcp, (err) => setMsg({ error: toUiError(err).message }))}>MCP</button>{" "}
                    <button class="link" data-testid={`settings-${a.agent.name}`} onClick={() => api.agentSettings(a.agent.name).then(setKey, (err) => setMsg({ error: toUiError(err).message }))}>Show settings</button>{" "}
                    {rotating === a.agent.name ? (
                      <span class="confirm-inline" data-testid={`rotate-confirm-${a.agent.name}`}>
                        A new key cuts off {a.agent.name} where it runs with the old one.{" "}
                        <button class="link danger" onClick={() => (setRotating(null), api.rotateAgentKey(a.agent.name).then(setKey, (err) => setMsg({ error: toUiError(err).message })))}>Make a new key</button>
                        <button class="link" onClick={() => setRotating(null)}>Cancel</button>
                      </span>
                    ) : (
                      <button class="link" data-testid={`rotate-${a.agent.name}`} onClick={() => setRotating(a.agent.name)}>New key</button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Card>
    </div>
  );
}
