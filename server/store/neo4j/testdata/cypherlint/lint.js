// Lints Cypher with Neo4j's own front-end (@neo4j-cypher/language-support):
// reads a JSON array of queries on stdin, writes a JSON array with, for each
// query, its syntax and semantic errors. Parameters are declared at run
// time, so "Parameter $x is not defined" is not reported.
'use strict';
const { lintCypherQuery } = require('@neo4j-cypher/language-support');

let input = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => { input += chunk; });
process.stdin.on('end', () => {
  const out = JSON.parse(input).map((query) => {
    const result = lintCypherQuery(query, {});
    const diagnostics = Array.isArray(result) ? result : result.diagnostics;
    return diagnostics
      .filter((d) => !/^Parameter \$\w+ is not defined/.test(d.message))
      .map((d) => ({ severity: d.severity, message: d.message }));
  });
  process.stdout.write(JSON.stringify(out));
});
