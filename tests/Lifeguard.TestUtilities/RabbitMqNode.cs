using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace Lifeguard.Testing;

/// <summary>
/// The tests' own RabbitMQ node: eng/rabbitmq.sh installs Debian's rabbitmq-server when it is missing and starts a
/// private node (loopback only, free ports, its own epmd, cookie and user) in a state folder of this process; disposing
/// stops it and removes the folder. This process is recorded as the node's owner, so when it dies without disposing, the
/// next start beside that folder stops what it left. Start it once per test assembly (a collection fixture), not per
/// test. Not thread-safe: one owner starts and disposes it.
/// </summary>
public sealed class RabbitMqNode : IAsyncDisposable
{
    /// <summary>The longest a start may take, a first install of the package included.</summary>
    public static readonly TimeSpan StartTimeout = TimeSpan.FromMinutes(10);

    /// <summary>
    /// The longest a stop may take: the script bounds the node's shutdown (LIFEGUARD_RABBITMQ_TIMEOUT, 180 s by
    /// default), then ends what is left by pid within the same bound.
    /// </summary>
    public static readonly TimeSpan StopTimeout = TimeSpan.FromMinutes(7);

    /// <summary>The longest a restart may take: a shutdown, what is left ended by pid, and a start, each bounded by the script.</summary>
    public static readonly TimeSpan RestartTimeout = TimeSpan.FromMinutes(10);

    private const int OutputLimit = 16 * 1024;

    private bool _disposed;

    private RabbitMqNode(string stateDirectory, Uri uri, TimeSpan startupTime)
    {
        StateDirectory = stateDirectory;
        Uri = uri;
        StartupTime = startupTime;
    }

    /// <summary>The node's AMQP URI, with its user's password: never print it.</summary>
    public Uri Uri { get; }

    /// <summary>The instance's state folder (data, logs, cookie, ports, pids).</summary>
    public string StateDirectory { get; }

    /// <summary>How long the start took, an install included.</summary>
    public TimeSpan StartupTime { get; }

    /// <summary>
    /// Starts a node in <paramref name="stateDirectory"/>, else in LIFEGUARD_RABBITMQ_DIR, else in
    /// artifacts/rabbitmq/test-PID of this checkout (one folder per test process, so concurrent runs never share one).
    /// </summary>
    public static async Task<RabbitMqNode> StartAsync(string? stateDirectory = null, CancellationToken cancellationToken = default)
    {
        var dir = stateDirectory
            ?? Environment.GetEnvironmentVariable("LIFEGUARD_RABBITMQ_DIR")
            ?? Path.Combine(Repository.Root, "artifacts", "rabbitmq", "test-" + Environment.ProcessId.ToString(CultureInfo.InvariantCulture));
        var started = Stopwatch.GetTimestamp();
        int exitCode;
        string stdout, stderr;
        try
        {
            (exitCode, stdout, stderr) = await RunScriptAsync(["start", dir], StartTimeout, cancellationToken);
        }
        catch (Exception e) when (e is TimeoutException or OperationCanceledException)
        {
            // The script was ended mid-start: stop whatever it had started already, by the pids it recorded.
            await RunScriptAsync(["stop", dir], StopTimeout, CancellationToken.None);
            throw;
        }

        var line = stdout.Trim();

        // The error names the exit code and the script's stderr only: stdout holds the password.
        if (exitCode != 0 || !Uri.TryCreate(line, UriKind.Absolute, out var uri) || uri.Scheme != "amqp")
        {
            throw new InvalidOperationException($"eng/rabbitmq.sh start {dir} failed (exit code {exitCode}): {stderr}");
        }

        return new RabbitMqNode(Path.GetFullPath(dir), uri, Stopwatch.GetElapsedTime(started));
    }

    /// <summary>The node's listeners as the node reports them: (protocol, interface, port).</summary>
    public async Task<IReadOnlyList<(string Protocol, string Interface, int Port)>> ListenersAsync(CancellationToken cancellationToken = default)
    {
        var (exitCode, stdout, stderr) = await RunScriptAsync(["listeners", StateDirectory], StopTimeout, cancellationToken);
        if (exitCode != 0)
        {
            throw new InvalidOperationException($"eng/rabbitmq.sh listeners failed (exit code {exitCode}): {stderr}");
        }

        return
        [
            .. stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .Select(l => l.Split(' '))
                .Select(f => (f[0], f[1], int.Parse(f[2], CultureInfo.InvariantCulture))),
        ];
    }

    /// <summary>
    /// Shuts the node down and starts it again in the same folder (<c>eng/rabbitmq.sh restart</c>): the same ports,
    /// user, password and so <see cref="Uri"/>; durable queues and their messages survive. Returns once it serves.
    /// </summary>
    public Task RestartAsync(CancellationToken cancellationToken = default) => RunAsync("restart", RestartTimeout, cancellationToken);

    /// <summary>
    /// Stops the RabbitMQ application inside the node (<c>eng/rabbitmq.sh stop-app</c>): every connection closes and
    /// the AMQP port refuses until <see cref="StartAppAsync"/>; the Erlang VM and the node's data stay.
    /// </summary>
    public Task StopAppAsync(CancellationToken cancellationToken = default) => RunAsync("stop-app", StopTimeout, cancellationToken);

    /// <summary>Starts the application again after <see cref="StopAppAsync"/>; returns once the node serves.</summary>
    public Task StartAppAsync(CancellationToken cancellationToken = default) => RunAsync("start-app", RestartTimeout, cancellationToken);

    private async Task RunAsync(string command, TimeSpan timeout, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var (exitCode, _, stderr) = await RunScriptAsync([command, StateDirectory], timeout, cancellationToken);
        if (exitCode != 0)
        {
            throw new InvalidOperationException($"eng/rabbitmq.sh {command} {StateDirectory} failed (exit code {exitCode}): {stderr}");
        }
    }

    /// <summary>Shuts the node down, stops its epmd and removes its state folder.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        var (exitCode, _, stderr) = await RunScriptAsync(["stop", StateDirectory], StopTimeout, CancellationToken.None);
        if (exitCode != 0)
        {
            throw new InvalidOperationException($"eng/rabbitmq.sh stop {StateDirectory} failed (exit code {exitCode}): {stderr}");
        }
    }

    /// <summary>Runs <c>bash eng/rabbitmq.sh ARGS</c> (an argv list, no shell command string) under a bound.</summary>
    private static async Task<(int ExitCode, string Stdout, string Stderr)> RunScriptAsync(
        string[] arguments, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var root = Repository.Root;
        var start = new ProcessStartInfo("bash")
        {
            WorkingDirectory = root,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(Path.Combine(root, "eng", "rabbitmq.sh"));
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        // This process owns the node: a later start finds it gone when this run crashed, and stops what it left.
        start.Environment["LIFEGUARD_RABBITMQ_OWNER"] = Environment.ProcessId.ToString(CultureInfo.InvariantCulture);
        using var process = Process.Start(start) ?? throw new InvalidOperationException("bash did not start");
        process.StandardInput.Close();
        var stdout = ReadBoundedAsync(process.StandardOutput);
        var stderr = ReadBoundedAsync(process.StandardError);
        using var bound = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        bound.CancelAfter(timeout);
        try
        {
            await process.WaitForExitAsync(bound.Token);
        }
        catch (OperationCanceledException e) when (!cancellationToken.IsCancellationRequested)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"eng/rabbitmq.sh {arguments[0]} did not finish within {timeout}: {await stderr}", e);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }

        return (process.ExitCode, await stdout, await stderr);
    }

    /// <summary>Reads a stream to its end, keeping at most <see cref="OutputLimit"/> characters (the last ones).</summary>
    private static async Task<string> ReadBoundedAsync(StreamReader reader)
    {
        var kept = new StringBuilder();
        var buffer = new char[4096];
        int read;
        while ((read = await reader.ReadAsync(buffer)) > 0)
        {
            kept.Append(buffer, 0, read);
            if (kept.Length > OutputLimit)
            {
                kept.Remove(0, kept.Length - OutputLimit);
            }
        }

        return kept.ToString();
    }
}
