using System.Globalization;
using Lifeguard.Python;

namespace Lifeguard.Cli;

/// <summary>
/// The pool a run calls, local (<see cref="LocalRunPool"/>) or remote (<see cref="RemoteRunPool"/>), with what the run
/// needs of it besides its calls: how many inputs may be in flight, when a call can be sent, its live status and its
/// summary line. Disposing stops the pool.
/// </summary>
internal interface IRunPool : IAsyncDisposable
{
    IPythonCaller Caller { get; }

    /// <summary>Whether each input is a stream, whose items get an entry each (a generator function).</summary>
    bool Streams { get; }

    /// <summary>The inputs in flight.</summary>
    RunSlots Slots { get; }

    /// <summary>How many inputs the reorder window holds (in flight, or done and waiting for their turn).</summary>
    int Window { get; }

    /// <summary>Waits until a call can be sent (a remote pool: until its connection to the broker is up).</summary>
    /// <exception cref="OperationCanceledException">The token fired first.</exception>
    ValueTask ReadyAsync(CancellationToken cancellationToken);

    /// <summary>The live status on the progress bar, as Spectre markup.</summary>
    string Describe();

    /// <summary>The summary's last line: what the pool's workers or hosts did.</summary>
    string Summary();

    /// <summary>Stops the pool after the last call (a local pool's workers' last lines are forwarded first).</summary>
    Task StopAsync();
}

/// <summary>A local <see cref="PythonPool"/> of the run's own workers, at most its cap in flight. Not thread-safe but for its slots.</summary>
internal sealed class LocalRunPool(PythonPool pool, bool generator) : IRunPool
{
    private readonly int _cap = pool.GetStatus() is var s ? s.Size + s.MaxOverflow : 1;
    private RunSlots? _slots;

    public IPythonCaller Caller => pool;

    public bool Streams => generator;

    public RunSlots Slots => _slots ??= RunSlots.Fixed(_cap);

    public int Window => Math.Max(64, _cap * 8);

    public ValueTask ReadyAsync(CancellationToken cancellationToken) => ValueTask.CompletedTask;

    public string Describe()
    {
        var s = pool.GetStatus();
        return string.Create(CultureInfo.InvariantCulture, $"[grey]busy {s.Busy} idle {s.Idle} overflow {s.Overflow} waiting {s.Waiters} restarts {s.TotalRestarts}[/]");
    }

    public string Summary()
    {
        var status = pool.GetStatus();
        return string.Create(
            CultureInfo.InvariantCulture,
            $"workers: {status.Size} ready, {status.TotalDeaths} died and were replaced, {Math.Max(0, status.TotalStarts - status.Size)} started after the first");
    }

    public Task StopAsync() => pool.StopAsync(CancellationToken.None);

    public async ValueTask DisposeAsync()
    {
        _slots?.Dispose();
        await pool.DisposeAsync().ConfigureAwait(false);
    }
}
