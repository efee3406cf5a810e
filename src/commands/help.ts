import {Args, Command, loadHelpClass} from '@oclif/core'

/** `poster help [COMMAND]`: the same pages as `poster [COMMAND] --help`. */
export default class HelpCommand extends Command {
  static override summary = 'Show help for poster, or for one command (poster help eval).'

  static override examples = [
    {description: 'Every command, with examples', command: '<%= config.bin %> help'},
    {description: 'One command: its flags, examples and exit codes', command: '<%= config.bin %> help eval'},
  ]

  static override strict = false

  static override args = {
    command: Args.string({description: 'the command to show help for', required: false}),
  }

  async run(): Promise<void> {
    const {argv} = await this.parse(HelpCommand)
    const Help = await loadHelpClass(this.config)
    await new Help(this.config, this.config.pjson.oclif.helpOptions ?? this.config.pjson.helpOptions).showHelp(argv.filter((a): a is string => typeof a === 'string'))
  }
}
