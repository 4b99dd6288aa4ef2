// Turns the chart's ServiceMonitors (from `helm template ... --set serviceMonitor.enabled=true`)
// into a Prometheus configuration with Kubernetes service discovery, the way the Prometheus
// Operator would, so that a plain Prometheus scrapes exactly what the chart tells it to. Covers
// the ServiceMonitor fields the chart uses: selector.matchLabels, namespaceSelector.any and the
// endpoints' port, path, interval, honorLabels, relabelings and a tlsConfig without Secrets
// (insecureSkipVerify, serverName); anything else is refused by name.
//   node scrape-config.js --chart RENDERED.yaml --server URL --ca F --cert F --key F > prometheus.yml
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { loadAll } from 'js-yaml';

interface Relabeling {
  sourceLabels?: string[];
  targetLabel?: string;
  regex?: string;
  replacement?: string;
  action?: string;
  separator?: string;
}

interface ServiceMonitor {
  kind: 'ServiceMonitor';
  metadata: { name: string; namespace: string };
  spec: {
    selector: { matchLabels: Record<string, string> };
    namespaceSelector?: { any?: boolean };
    endpoints: { port: string; path?: string; interval?: string; honorLabels?: boolean; relabelings?: Relabeling[]; tlsConfig?: TlsConfig }[];
  };
}

const KNOWN_SPEC_FIELDS = new Set(['selector', 'namespaceSelector', 'endpoints']);
const KNOWN_ENDPOINT_FIELDS = new Set(['port', 'path', 'interval', 'honorLabels', 'relabelings', 'tlsConfig']);
/** A CA or client certificate from a Secret needs the Prometheus Operator to fetch it: not covered. */
const KNOWN_TLS_FIELDS = new Set(['insecureSkipVerify', 'serverName']);

interface TlsConfig { insecureSkipVerify?: boolean; serverName?: string }

/** A Kubernetes label name as Prometheus service discovery spells it in a meta label. */
export function metaLabelName(label: string): string {
  return label.replace(/[^a-zA-Z0-9_]/g, '_');
}

function refuseUnknown(what: string, object: object, known: Set<string>): void {
  const unknown = Object.keys(object).filter((key) => !known.has(key));
  if (unknown.length > 0) throw new Error(`${what}: fields this translation does not cover: ${unknown.join(', ')}`);
}

function relabeling(r: Relabeling): Record<string, unknown> {
  return {
    ...(r.sourceLabels ? { source_labels: r.sourceLabels } : {}),
    ...(r.separator !== undefined ? { separator: r.separator } : {}),
    ...(r.targetLabel ? { target_label: r.targetLabel } : {}),
    ...(r.regex !== undefined ? { regex: r.regex } : {}),
    ...(r.replacement !== undefined ? { replacement: r.replacement } : {}),
    action: (r.action ?? 'replace').toLowerCase(),
  };
}

export interface ApiAccess { server: string; ca: string; cert: string; key: string }

/** One scrape job per ServiceMonitor endpoint, named as the Prometheus Operator names them. */
export function scrapeConfigs(monitors: ServiceMonitor[], api: ApiAccess): Record<string, unknown>[] {
  return monitors.flatMap((monitor) => {
    const where = `ServiceMonitor ${monitor.metadata.namespace}/${monitor.metadata.name}`;
    refuseUnknown(where, monitor.spec, KNOWN_SPEC_FIELDS);
    return monitor.spec.endpoints.map((endpoint, i) => {
      refuseUnknown(`${where} endpoint ${i}`, endpoint, KNOWN_ENDPOINT_FIELDS);
      const tls = endpoint.tlsConfig;
      if (tls !== undefined) refuseUnknown(`${where} endpoint ${i} tlsConfig`, tls, KNOWN_TLS_FIELDS);
      const selector = Object.entries(monitor.spec.selector.matchLabels).map(([label, value]) => ({
        source_labels: [`__meta_kubernetes_service_label_${metaLabelName(label)}`],
        regex: value.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'),
        action: 'keep',
      }));
      return {
        job_name: `serviceMonitor/${monitor.metadata.namespace}/${monitor.metadata.name}/${i}`,
        ...(endpoint.interval ? { scrape_interval: endpoint.interval } : {}),
        ...(endpoint.honorLabels === true ? { honor_labels: true } : {}),
        metrics_path: endpoint.path ?? '/metrics',
        ...(tls === undefined ? {} : { tls_config: {
          ...(tls.insecureSkipVerify !== undefined ? { insecure_skip_verify: tls.insecureSkipVerify } : {}),
          ...(tls.serverName !== undefined ? { server_name: tls.serverName } : {}),
        } }),
        kubernetes_sd_configs: [{
          role: 'endpoints',
          api_server: api.server,
          tls_config: { ca_file: api.ca, cert_file: api.cert, key_file: api.key },
          ...(monitor.spec.namespaceSelector?.any ? {} : { namespaces: { names: [monitor.metadata.namespace] } }),
        }],
        relabel_configs: [
          ...selector,
          { source_labels: ['__meta_kubernetes_endpoint_port_name'], regex: endpoint.port, action: 'keep' },
          { source_labels: ['__meta_kubernetes_namespace'], target_label: 'namespace' },
          { source_labels: ['__meta_kubernetes_service_name'], target_label: 'service' },
          { source_labels: ['__meta_kubernetes_pod_name'], target_label: 'pod' },
          ...(endpoint.relabelings ?? []).map(relabeling),
        ],
      };
    });
  });
}

function main(): void {
  const { values } = parseArgs({
    options: {
      chart: { type: 'string' }, server: { type: 'string' }, ca: { type: 'string' }, cert: { type: 'string' }, key: { type: 'string' },
      interval: { type: 'string', default: '5s' },
    },
  });
  const { chart, server, ca, cert, key } = values;
  if (!chart || !server || !ca || !cert || !key) {
    console.error('usage: scrape-config --chart RENDERED.yaml --server URL --ca F --cert F --key F [--interval 5s]');
    process.exit(2);
  }
  const monitors = loadAll(readFileSync(chart, 'utf8')).filter(
    (doc): doc is ServiceMonitor => typeof doc === 'object' && doc !== null && (doc as { kind?: string }).kind === 'ServiceMonitor',
  );
  if (monitors.length === 0) throw new Error(`${chart}: no ServiceMonitor (render the chart with serviceMonitor.enabled=true)`);
  const config = { global: { scrape_interval: values.interval, evaluation_interval: values.interval }, scrape_configs: scrapeConfigs(monitors, { server, ca, cert, key }) };
  // JSON is YAML: Prometheus reads it as its configuration file.
  console.log(JSON.stringify(config, null, 2));
}

if (import.meta.url === `file://${process.argv[1]}`) main();
