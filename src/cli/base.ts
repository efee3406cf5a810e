/**
 * What every poster command shares: --json, documented exit codes, colour that honours NO_COLOR, and a
 * progress bar on stderr only when stderr is a terminal.
 */
import {Command, Errors} from '@oclif/core'
import chalk from 'chalk'

import {printable} from '../basics.js'

/**
 * Exit codes, documented in the README and in every command's --help. The same mistake gets the same code in
 * every command:
 * - 2 usage: what the command line alone shows to be wrong, before any file is read: an unknown flag, a missing
 *   argument, a malformed value (oclif's parse errors and the shared flags' parsers, src/cli/shared.ts), or flags
 *   that contradict each other (UsageError);
 * - 1 error: well-formed flags that do not fit the files: a model, dataset or input that does not exist or cannot
 *   be read, class counts or --labels that do not match the model, an output that already exists;
 * - 3 regression: the accuracy gate failed (RegressionError).
 */
export const EXIT = {ok: 0, error: 1, usage: 2, regression: 3} as const

export const EXIT_CODES_HELP = 'Exit codes: 0 ok, 1 error, 2 usage, 3 regression (check / eval --baseline).'

/** A problem with how the command was called (bad flag combination or value): exit 2. */
export class UsageError extends Error {
  readonly exitCode = EXIT.usage
}

/**
 * The command ran and found problems in its input (poster dataset check): exit 1, and with --json the full result
 * is printed, as on success, with the error beside it.
 */
export class FindingsError extends Error {
  readonly exitCode = EXIT.error
  constructor(message: string, readonly result: object) {
    super(message)
  }
}

/** The accuracy gate failed: exit 3. Carries the result so --json still prints it. */
export class RegressionError extends Error {
  readonly exitCode = EXIT.regression
  constructor(message: string, readonly result: unknown) {
    super(message)
  }
}

export function colorEnabled(stream: NodeJS.WriteStream = process.stdout): boolean {
  if (process.env.NO_COLOR !== undefined && process.env.NO_COLOR !== '') return false
  if (process.env.FORCE_COLOR !== undefined && process.env.FORCE_COLOR !== '0') return true
  return Boolean(stream.isTTY)
}

export abstract class PosterCommand extends Command {
  static override enableJsonFlag = true

  protected override async init(): Promise<void> {
    await super.init()
    chalk.level = colorEnabled() ? (chalk.level || 1) : 0
  }

  protected override async catch(err: Error & {exitCode?: number; oclif?: {exit?: number}}): Promise<unknown> {
    const code =
      err instanceof RegressionError
        ? EXIT.regression
        : err instanceof UsageError
          ? EXIT.usage
          : (err.oclif?.exit ?? err.exitCode ?? EXIT.error)
    process.exitCode = code
    if (err instanceof RegressionError && this.jsonEnabled()) {
      this.logJson(err.result)
      return
    }
    // Messages quote files (key names, labels, paths): no control character reaches the terminal raw.
    const message = printable(err.message, {keepLines: true})
    if (err instanceof FindingsError) {
      if (this.jsonEnabled()) this.logJson({...err.result, error: {message, exitCode: code}})
      else process.stderr.write(`${message}\n`)
      return
    }
    if (this.jsonEnabled()) {
      this.logJson({error: {message, exitCode: code}})
      return
    }
    if (err instanceof Errors.CLIError && err.oclif?.exit !== undefined) throw err
    // A plain message, not a stack trace: these errors are written for users.
    throw new Errors.CLIError(message, {exit: code})
  }
}
