using System.Net.Security;
using RabbitMQ.Client;
using RabbitMQ.Client.Exceptions;

namespace Lifeguard.RabbitMQ;

/// <summary>Connections to the broker: the URI (else LIFEGUARD_BROKER), recovery with backoff, and the URI as logs may show it.</summary>
internal static class Broker
{
    public const string EnvironmentVariable = "LIFEGUARD_BROKER";

    /// <summary>
    /// RabbitMQ's largest message by default (<c>max_message_size</c>, 128 MiB), the bound of every MaxFrameSize here. A
    /// connection takes messages up to it, above RabbitMQ.Client's own default of 64 MiB: a message between a
    /// MaxFrameSize and this fails its call alone, where the client's limit would close the connection and every call
    /// on it.
    /// </summary>
    public const int MaxMessageSize = 128 * 1024 * 1024;

    /// <summary>The time between two attempts of a lost connection's recovery.</summary>
    public static readonly TimeSpan RecoveryInterval = TimeSpan.FromSeconds(1);

    /// <summary>The URI given, else LIFEGUARD_BROKER's.</summary>
    /// <exception cref="ArgumentException">Neither, or not an amqp:// or amqps:// URI (the message never shows a password).</exception>
    public static Uri Resolve(Uri? configured, string what)
    {
        var uri = configured;
        if (uri is null)
        {
            var text = Environment.GetEnvironmentVariable(EnvironmentVariable);
            if (string.IsNullOrWhiteSpace(text))
            {
                throw new ArgumentException($"{what} names no broker: set its Broker option, or the {EnvironmentVariable} environment variable, to an amqp:// or amqps:// URI.", nameof(configured));
            }

            if (!Uri.TryCreate(text.Trim(), UriKind.Absolute, out uri))
            {
                throw new ArgumentException($"{EnvironmentVariable} is not a URI: it must be amqp://user:password@host:port/vhost or amqps://....", nameof(configured));
            }
        }

        if (!uri.IsAbsoluteUri || uri.Scheme is not ("amqp" or "amqps"))
        {
            throw new ArgumentException($"The broker URI {Redact(uri)} is not amqp:// or amqps://.", nameof(configured));
        }

        return uri;
    }

    /// <summary>The URI without its password, for messages and logs.</summary>
    public static string Redact(Uri uri)
    {
        if (!uri.IsAbsoluteUri)
        {
            return "(a relative URI)";
        }

        var user = uri.UserInfo.Split(':', 2)[0];
        var builder = new UriBuilder(uri) { UserName = user, Password = "" };
        var text = builder.Uri.GetLeftPart(UriPartial.Path);
        return text;
    }

    public static ConnectionFactory CreateFactory(Uri uri, string clientName, Action<ConnectionFactory>? configure)
    {
        var factory = new ConnectionFactory
        {
            Uri = uri,
            ClientProvidedName = clientName,
            AutomaticRecoveryEnabled = true,
            TopologyRecoveryEnabled = true,
            NetworkRecoveryInterval = RecoveryInterval,
            RequestedHeartbeat = TimeSpan.FromSeconds(10),
            RequestedConnectionTimeout = TimeSpan.FromSeconds(10),
            ConsumerDispatchConcurrency = 1,
            MaxInboundMessageBodySize = MaxMessageSize,
        };
        if (uri.Scheme == "amqps")
        {
            factory.Ssl.Enabled = true;
            factory.Ssl.ServerName = uri.Host;
            factory.Ssl.AcceptablePolicyErrors = SslPolicyErrors.None;
        }

        configure?.Invoke(factory);
        return factory;
    }

    /// <summary>Whether <paramref name="e"/> says the broker cannot be reached or the connection or channel is gone.</summary>
    public static bool IsUnavailable(Exception e)
        => e is BrokerUnreachableException or AlreadyClosedException or OperationInterruptedException or ConnectFailureException
            or System.Net.Sockets.SocketException or IOException or ObjectDisposedException;
}
