'use strict';
// Helpers of the tests.
const fs = require('node:fs');
const pg = require('pg');

/** Whether check() becomes true within `timeout` ms: for what the harness does in the background. */
async function eventually(check, timeout = 20000) {
  const deadline = Date.now() + timeout;
  while (!(await check())) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return true;
}

const gone = (path) => eventually(() => !fs.existsSync(path));

async function query(uri, sql, params = []) {
  const client = new pg.Client({ connectionString: uri });
  await client.connect();
  try {
    return (await client.query(sql, params)).rows;
  } finally {
    await client.end();
  }
}

const scalar = async (uri, sql, params) => Object.values((await query(uri, sql, params))[0])[0];

module.exports = { eventually, gone, query, scalar };
