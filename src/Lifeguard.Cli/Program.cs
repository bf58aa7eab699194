using Lifeguard.Cli;

return await LifeguardCommand.RunAsync(args, Console.Out, Console.Error).ConfigureAwait(false);
