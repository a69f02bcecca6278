// Settings: where Purser listens and keeps its data, the approval timeout, notifications, the config file.
import { api } from "../api";
import type { ScreenProps } from "../app";
import { Card, ErrorBox, Loading, useData } from "../components";

export function SettingsScreen({ tick }: ScreenProps) {
  const { data, error, reload } = useData(() => api.settings(), [tick]);
  if (error) return <ErrorBox error={error} retry={reload} />;
  if (!data) return <Loading what="settings" />;
  return (
    <div class="screen">
      <h1>Settings</h1>
      <Card>
        <dl>
          <dt>Agents connect to</dt><dd class="mono">{data.proxy_url}</dd>
          <dt>Data directory</dt><dd class="mono">{data.data_dir}</dd>
          <dt>Approval timeout</dt><dd>{data.approval_timeout_secs} s, then the payment is denied</dd>
          <dt>Time zone</dt><dd>{data.time_zone} (calendar budgets)</dd>
          <dt>Notifications</dt>
          <dd>
            <label class="switch">
              <input type="checkbox" checked={data.notifications} onChange={(e) => api.setNotifications(e.currentTarget.checked).then(reload)} />
              Notify me of approvals and alerts
            </label>
          </dd>
        </dl>
        <p class="muted small">
          The listen address, approval timeout and time zone are set in <code>{data.config_file}</code> (or with
          <code> --listen</code>) and apply on the next start. HTTPS interception and its CA export come in a later version.
        </p>
      </Card>
    </div>
  );
}
