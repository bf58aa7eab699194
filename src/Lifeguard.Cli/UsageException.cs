namespace Lifeguard.Cli;

/// <summary>An argument the parser accepted but the command cannot use; reported in one line with exit code 2.</summary>
internal sealed class UsageException(string message) : Exception(message);
