import fp from 'fastify-plugin';
import { SpecError } from '../../core/errors.js';
import { parseSpecDocument } from '../../core/spec/parse-run-spec.js';

const YAML_TYPES = ['application/yaml', 'application/x-yaml', 'text/yaml', 'text/x-yaml'];
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

function strictUtf8(body: Buffer): string {
  try {
    return utf8.decode(body);
  } catch {
    throw new SpecError(['(body): is not valid UTF-8'], 'request body');
  }
}

/**
 * The request bodies the API reads: JSON and YAML, both refused unless they are valid UTF-8.
 * Node would otherwise decode a bad byte as U+FFFD, and a spec with mangled text would be
 * accepted and generated from. JSON keeps Fastify's own parser and its prototype-poisoning checks.
 */
export const bodyParsersPlugin = fp(
  async (app) => {
    const parseJson = app.getDefaultJsonParser('error', 'error');
    app.removeContentTypeParser('application/json');
    app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
      try {
        parseJson(request, strictUtf8(body as Buffer), done);
      } catch (err) {
        done(err as Error, undefined);
      }
    });
    // YAML specs arrive as text and are parsed here, so a syntax error is a 400 like any other.
    app.addContentTypeParser(YAML_TYPES, { parseAs: 'buffer' }, (_request, body, done) => {
      try {
        done(null, parseSpecDocument(strictUtf8(body as Buffer)));
      } catch (err) {
        done(err as Error, undefined);
      }
    });
  },
  { name: 'body-parsers' },
);
