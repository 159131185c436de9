/** A first script per type: it logs, reads the request and answers, so Run shows every part at once. */
export const STARTERS: Record<string, string> = {
  javascript: `console.log('method', event.request.method);\nreturn { hello: event.request.parameters.name ?? 'world' };\n`,
  typescript: `const name: string = event.request.parameters.name ?? 'world';\nconsole.log('hello', name);\nreturn { hello: name };\n`,
  nodejs: `console.log('method', event.request.method);\nreturn { hello: event.request.parameters.name ?? 'world' };\n`,
  python3: `print('method', event.request.method)\nreturn {'hello': event.request.parameters.get('name', 'world')}\n`,
  python: `print('method', event.request.method)\nreturn {'hello': event.request.parameters.get('name', 'world')}\n`,
  php: `echo "method " . $event['request']['method'] . "\\n";\nreturn ['hello' => $event['request']['parameters']['name'] ?? 'world'];\n`,
};
