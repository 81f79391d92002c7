// Structured JSON logs (pino), one line per event.
import pino from 'pino';
import type { Config } from './config.js';

export type Logger = pino.Logger;

export function createLogger(level: Config['logLevel'] = 'info'): Logger {
  return pino({
    level,
    base: { service: 'account-gateway' },
    timestamp: pino.stdTimeFunctions.isoTime,
    // Credentials never reach a log line, whatever logs a request.
    redact: {
      paths: ['req.headers.authorization', 'headers.authorization', '*.apiKey', '*.key', '*.password'],
      censor: '[redacted]',
    },
  });
}
