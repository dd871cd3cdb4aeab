import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { renderSettingsTable, settingsTableFiles, withSettingsTables } from "../../scripts/settings-tables.js";

const root = fileURLToPath(new URL("../../", import.meta.url));
const fix = "node --import tsx scripts/settings-tables.ts";

for (const { file, tables } of settingsTableFiles) {
  test(`${file}: its settings tables are the ones the schema writes (${fix} rewrites them)`, async () => {
    const text = await readFile(`${root}${file}`, "utf8");
    assert.equal(withSettingsTables(text, tables), text, `${file} and the settings schema disagree: run ${fix}`);
  });
}

test("a table has one row per setting, with its variables, flags, option, accepted values and default", () => {
  for (const { tables } of settingsTableFiles) {
    for (const table of tables) {
      const rows = renderSettingsTable(table).split("\n").slice(2);
      const entries = table.groups.flatMap(({ group }) => group.entries);
      assert.equal(rows.length, entries.length, table.name);
      entries.forEach(({ path, setting }, index) => {
        const row = rows[index] as string;
        for (const name of setting.env) assert.ok(row.includes(`\`${name}\``), `${table.name}: ${name} in ${row}`);
        for (const { name } of setting.flags) assert.ok(row.includes(`\`${name}\``), `${table.name}: ${name} in ${row}`);
        assert.ok(row.includes(setting.description), `${table.name}: ${path}'s description in ${row}`);
      });
    }
  }
  const server = renderSettingsTable(settingsTableFiles[0]?.tables[0] ?? assert.fail("no server table"));
  assert.match(server, /^\| `SAGEMAKER_BIND_TO_PORT`, else `AIP_HTTP_PORT` \| `--port` \| `port` \| a whole number from 0 to 65535 \| `8080` \| TCP port \|$/m, "the first variable set wins");
  assert.match(server, /^\| `SAGEMAKER_MODEL_SERVER_WORKERS` \| `--workers` \| `workers` \| a whole number from 1 to 1024 \| CPU count − 1, at least 1 \| /m, "derived defaults say how");
});

test("a stale table between the markers is rewritten; a file without the markers is refused", () => {
  const [readmeTables] = settingsTableFiles.map(({ tables }) => tables);
  const tables = readmeTables ?? assert.fail("no tables");
  const stale = tables.map(({ name }) => `<!-- settings-table:${name} -->\n| old | table |\n<!-- /settings-table:${name} -->`).join("\n\nprose\n\n");
  const fresh = withSettingsTables(stale, tables);
  assert.ok(!fresh.includes("| old | table |"));
  assert.ok(fresh.includes("\n\nprose\n\n"), "the text around the tables stays");
  assert.equal(withSettingsTables(fresh, tables), fresh);
  assert.throws(() => withSettingsTables("no markers here", tables), /No <!-- settings-table:server --> \.\.\. <!-- \/settings-table:server --> markers/);
});
