using System.Globalization;
using Lifeguard.Python;
using Lifeguard.RabbitMQ;

namespace Lifeguard.Cli;

/// <summary>
/// <c>lifeguard run MODULE:FUNCTION --pool NAME</c>'s pool: a <see cref="RemotePythonPool"/> on the hosts of NAME.
/// Started only when the broker answers, the call queue's arguments agree and a host is heard, so that anything else
/// is exit code 2 before an input is read. In flight: the serving hosts' capacity, re-read every 0.5 s, or
/// <c>--in-flight</c>. A call waits for the broker's connection before it is sent, so that inputs not sent yet wait
/// out an outage instead of failing. The broker's password is never shown. Thread-safe.
/// </summary>
internal sealed class RemoteRunPool : IRunPool
{
    /// <summary>How long a run waits for a host of its pool to be heard before it gives up, with exit code 2.</summary>
    public static readonly TimeSpan HostWait = TimeSpan.FromSeconds(10);

    private static readonly TimeSpan ConnectionPoll = TimeSpan.FromMilliseconds(100);

    private readonly RemotePythonPool _pool;
    private readonly Action<string> _say;
    private readonly string _broker;
    private readonly int? _inFlight;
    private int _disconnected;

    private RemoteRunPool(RemotePythonPool pool, RemoteRun remote, Action<string> say, string broker)
    {
        _pool = pool;
        _say = say;
        _broker = broker;
        Streams = remote.Stream;
        _inFlight = remote.InFlight;
        Slots = remote.InFlight is { } fixedCount ? RunSlots.Fixed(fixedCount) : RunSlots.Following(() => Capacity(pool), TimeProvider.System);
        Window = Math.Max(1024, 8 * Math.Max(remote.InFlight ?? 0, Capacity(pool)));
    }

    public IPythonCaller Caller => _pool;

    public bool Streams { get; }

    public RunSlots Slots { get; }

    public int Window { get; }

    /// <summary>
    /// Connects, and waits up to <see cref="HostWait"/> for a host; <see langword="null"/> when something fails, reported
    /// on <paramref name="error"/> in one line.
    /// </summary>
    /// <exception cref="OperationCanceledException">Interrupted.</exception>
    public static async Task<RemoteRunPool?> StartAsync(RunSettings settings, RemoteRun remote, Action<string> say, TextWriter error, CancellationToken cancellationToken)
    {
        Uri uri;
        try
        {
            if (remote.Broker is null && string.IsNullOrWhiteSpace(Environment.GetEnvironmentVariable(Broker.EnvironmentVariable)))
            {
                await error.WriteLineAsync($"lifeguard run: --pool needs a broker: pass --broker URI, or set {Broker.EnvironmentVariable} to amqp://user:password@host:port/vhost (or amqps://...).").ConfigureAwait(false);
                return null;
            }

            uri = Broker.Resolve(remote.Broker, "--broker");
        }
        catch (ArgumentException e)
        {
            await error.WriteLineAsync($"lifeguard run: {e.Message}").ConfigureAwait(false);
            return null;
        }

        var options = new RemotePythonPoolOptions
        {
            Name = remote.Pool,
            Broker = uri,
            CallTimeout = settings.Timeout,
            MaxRetries = settings.Retries,
            MaxFrameSize = settings.FrameLimit,

            // As a local run's checkout: an input sent waits for a host however long the others take.
            CheckoutTimeout = Timeout.InfiniteTimeSpan,
        };
        options.MaxQueueLength = remote.MaxQueueLength ?? options.MaxQueueLength;

        string broker = Broker.Redact(uri);
        RemotePythonPool pool;
        try
        {
            pool = await RemotePythonPool.StartAsync(options, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (BrokerUnavailableException e)
        {
            await error.WriteLineAsync($"lifeguard run: cannot reach the broker: {OneLine(e.Message)}").ConfigureAwait(false);
            return null;
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException)
        {
            await error.WriteLineAsync($"lifeguard run: {OneLine(e.Message)}").ConfigureAwait(false);
            return null;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // Refused by the broker after connecting (a virtual host not allowed, say): its message, never the URI's password.
            await error.WriteLineAsync($"lifeguard run: the broker {broker} refused pool '{remote.Pool}': {OneLine(e.Message)}").ConfigureAwait(false);
            return null;
        }

        try
        {
            var waited = System.Diagnostics.Stopwatch.StartNew();
            while (Capacity(pool) == 0)
            {
                if (waited.Elapsed >= HostWait)
                {
                    await error.WriteLineAsync(string.Create(
                        CultureInfo.InvariantCulture,
                        $"lifeguard run: no host of pool '{remote.Pool}' was heard on {broker} within {HostWait.TotalSeconds:0} s; start one with 'lifeguard serve FILE.py --pool {remote.Pool}'.")).ConfigureAwait(false);
                    await pool.DisposeAsync().ConfigureAwait(false);
                    return null;
                }

                await Task.Delay(TimeSpan.FromMilliseconds(50), cancellationToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException)
        {
            await pool.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        var run = new RemoteRunPool(pool, remote, say, broker);
        say(string.Create(CultureInfo.InvariantCulture, $"lifeguard run: pool '{remote.Pool}' on {broker}: {run.HostsText()}"));
        return run;
    }

    public async ValueTask ReadyAsync(CancellationToken cancellationToken)
    {
        if (_pool.IsConnected)
        {
            if (Interlocked.Exchange(ref _disconnected, 0) == 1)
            {
                _say($"lifeguard run: connected to the broker {_broker} again; sending the inputs that waited.");
            }

            return;
        }

        if (Interlocked.Exchange(ref _disconnected, 1) == 0)
        {
            _say($"lifeguard run: the connection to the broker {_broker} is down; the inputs not sent yet wait for it to come back.");
        }

        while (!_pool.IsConnected)
        {
            await Task.Delay(ConnectionPoll, cancellationToken).ConfigureAwait(false);
        }

        if (Interlocked.Exchange(ref _disconnected, 0) == 1)
        {
            _say($"lifeguard run: connected to the broker {_broker} again; sending the inputs that waited.");
        }
    }

    public string Describe()
        => string.Create(CultureInfo.InvariantCulture, $"[grey]hosts {_pool.Hosts.Count(h => h.Serving)} capacity {Capacity(_pool)} in flight {Slots.InUse}/{Slots.Limit}{(_pool.IsConnected ? "" : " broker down")}[/]");

    public string Summary() => HostsText();

    public Task StopAsync() => Task.CompletedTask;

    public async ValueTask DisposeAsync()
    {
        Slots.Dispose();
        await _pool.DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>The serving hosts' total capacity: the calls they run at once.</summary>
    private static int Capacity(RemotePythonPool pool) => pool.Hosts.Where(h => h.Serving).Sum(h => h.Capacity);

    /// <summary><c>hosts: 2, capacity 4 (a 2, b 2)</c>.</summary>
    private string HostsText()
    {
        var hosts = _pool.Hosts.Where(h => h.Serving).ToList();
        var c = CultureInfo.InvariantCulture;
        return string.Create(c, $"hosts: {hosts.Count}, capacity {hosts.Sum(h => h.Capacity)} (")
            + string.Join(", ", hosts.Select(h => string.Create(c, $"{h.Host} {h.Capacity}")))
            + ")"
            + (_inFlight is { } n ? string.Create(c, $"; at most {n} in flight (--in-flight)") : "");
    }

    private static string OneLine(string text) => string.Join(' ', text.Split('\n', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries));
}
