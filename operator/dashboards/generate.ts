// Writes the Catga dashboard JSON into the chart: `node operator/dist/dashboards/generate.js`.
// The chart's dashboard test fails when the checked-in file differs from this output.
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { resolve } from 'node:path';
import { catgaDashboard } from './catga-dashboard.js';

export const DASHBOARD_JSON_PATH = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../../charts/catga-operator/dashboards/catga.json');
export const dashboardJson = (): string => `${JSON.stringify(catgaDashboard(), null, 2)}\n`;

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  writeFileSync(DASHBOARD_JSON_PATH, dashboardJson());
  console.log(`wrote ${DASHBOARD_JSON_PATH}`);
}
