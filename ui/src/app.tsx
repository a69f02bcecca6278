// The window: navigation, the paused banner, and the screen on show. Core events refresh what is on screen.
import { useEffect, useState } from "preact/hooks";
import { api, on } from "./api";
import { EVENTS } from "./bindings/values";
import { SCREENS, type Screen } from "./screen";
import { OverviewScreen } from "./screens/overview";
import { LedgerScreen } from "./screens/ledger";
import { ApprovalsScreen } from "./screens/approvals";
import { TasksScreen } from "./screens/tasks";
import { BudgetsScreen } from "./screens/budgets";
import { AgentsScreen } from "./screens/agents";
import { ApisScreen } from "./screens/apis";
import { WalletScreen } from "./screens/wallet";
import { SettingsScreen } from "./screens/settings";

export function App() {
  const [screen, setScreen] = useState<Screen>("overview");
  const [tick, setTick] = useState(0);
  const [waiting, setWaiting] = useState(0);
  const [paused, setPaused] = useState(false);
  const [asked, setAsked] = useState(0);

  useEffect(() => {
    const refresh = () => setTick((t) => t + 1);
    // Whatever the core or the tray reports changes what the screens show; a notification may ask for a screen.
    const subs = [
      ...Object.values(EVENTS).filter((name) => name !== EVENTS.ui_navigate).map((name) => on(name, refresh)),
      on<string>(EVENTS.ui_navigate, (s) => setScreen(s as Screen)),
    ];
    return () => subs.forEach((p) => p.then((un) => un()));
  }, []);

  useEffect(() => {
    api.overview().then((o) => {
      setWaiting(o.approvals.reduce((n, a) => n + a.count, 0));
      setPaused(o.paused);
    }).catch(() => {});
    api.allowances(false).then((list) => setAsked(list.filter((a) => a.state === "requested").length)).catch(() => {});
  }, [tick, screen]);

  const props = { tick, refresh: () => setTick((t) => t + 1), go: setScreen };
  return (
    <div class="shell">
      <nav class="nav" aria-label="Screens">
        <div class="brand">
          <span class="logo">P</span> Purser
        </div>
        {SCREENS.map(([id, label]) => (
          <button class={`nav-item ${screen === id ? "active" : ""}`} data-screen={id} onClick={() => setScreen(id)}>
            {label}
            {id === "approvals" && waiting > 0 && <span class="badge">{waiting}</span>}
            {id === "tasks" && asked > 0 && <span class="badge" data-testid="tasks-badge">{asked}</span>}
          </button>
        ))}
      </nav>
      <main class="main">
        {paused && (
          <div class="banner" role="status">
            All payments are paused: agents are refused with <code>payments_paused</code>.
            <button onClick={() => api.setPaused(null, false).then(props.refresh)}>Resume</button>
          </div>
        )}
        {screen === "overview" && <OverviewScreen {...props} />}
        {screen === "ledger" && <LedgerScreen {...props} />}
        {screen === "approvals" && <ApprovalsScreen {...props} />}
        {screen === "tasks" && <TasksScreen {...props} />}
        {screen === "budgets" && <BudgetsScreen {...props} />}
        {screen === "agents" && <AgentsScreen {...props} />}
        {screen === "apis" && <ApisScreen {...props} />}
        {screen === "wallet" && <WalletScreen {...props} />}
        {screen === "settings" && <SettingsScreen {...props} />}
      </main>
    </div>
  );
}

