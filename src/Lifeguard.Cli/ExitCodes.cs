namespace Lifeguard.Cli;

/// <summary>The command's exit codes.</summary>
internal static class ExitCodes
{
    /// <summary>Everything succeeded.</summary>
    public const int Success = 0;

    /// <summary>The command ran, and some of its work failed.</summary>
    public const int SomeFailed = 1;

    /// <summary>The arguments were wrong; nothing was done.</summary>
    public const int Usage = 2;
}
