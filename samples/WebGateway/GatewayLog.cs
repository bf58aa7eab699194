namespace Lifeguard.Samples.WebGateway;

/// <summary>The gateway's log messages. Stateless.</summary>
internal static partial class GatewayLog
{
    [LoggerMessage(1, LogLevel.Error, "{Method} {Path} failed with {Status}; the client was told \"{Title}\".")]
    public static partial void ServerProblem(ILogger logger, Exception exception, string method, string path, int status, string title);

    [LoggerMessage(2, LogLevel.Warning, "{Method} {Path} was turned away with {Status}: {Reason}")]
    public static partial void Unavailable(ILogger logger, string method, string path, int status, string reason);
}
