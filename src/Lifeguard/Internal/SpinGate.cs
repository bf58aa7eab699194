#if DEBUG
using System.Diagnostics;
#endif

namespace Lifeguard;

/// <summary>
/// A minimal non-reentrant lock for the pool's state: one compare-and-swap to enter and a plain release store to
/// exit. Measured here, <see cref="Lock"/> spent two atomic operations per enter/exit, 45% of an uncontended
/// checkout+checkin pair; this halves that. Fit only for short critical sections that never block, never await and
/// never call user code — exactly the pool's transitions. Under contention it spins, then yields the processor
/// (<see cref="SpinWait"/>), so a preempted holder gets to run. The one call out that a transition makes, arming a
/// timer, may run a callback synchronously (<see cref="TimerCalls"/>): the holder hands it to
/// <see cref="RunAfterExit"/>. Thread-safe.
/// </summary>
internal sealed class SpinGate
{
    private int _held;

    /// <summary>Callbacks to run once the gate is released; written and read only by the holder.</summary>
    private List<Action>? _afterExit;
#if DEBUG
    private int _owner;
#endif

    public Scope EnterScope()
    {
        Enter();
        return new Scope(this);
    }

    /// <summary>Enters the gate; pair with <see cref="Exit"/> (prefer <see cref="EnterScope"/> where a scope fits).</summary>
    public void Enter()
    {
        if (Interlocked.CompareExchange(ref _held, 1, 0) != 0)
        {
            EnterContended();
        }

#if DEBUG
        _owner = Environment.CurrentManagedThreadId;
#endif
    }

    private void EnterContended()
    {
#if DEBUG
        Debug.Assert(Volatile.Read(ref _owner) != Environment.CurrentManagedThreadId, "the pool's lock is not reentrant");
#endif
        var spinner = default(SpinWait);
        do
        {
            spinner.SpinOnce();
        }
        while (Volatile.Read(ref _held) != 0 || Interlocked.CompareExchange(ref _held, 1, 0) != 0);
    }

#if DEBUG
    /// <summary>Whether the calling thread holds the gate (debug builds only, for assertions).</summary>
    public bool IsHeldByCurrentThread => Volatile.Read(ref _owner) == Environment.CurrentManagedThreadId;

#endif
    /// <summary>Runs <paramref name="action"/> on this thread after it releases the gate. Only the holder may call it.</summary>
    public void RunAfterExit(Action action)
    {
#if DEBUG
        Debug.Assert(Volatile.Read(ref _owner) == Environment.CurrentManagedThreadId, "only the holder defers work to the gate's release");
#endif
        (_afterExit ??= []).Add(action);
    }

    /// <summary>Releases the gate, then runs what the holder deferred to its release.</summary>
    public void Exit()
    {
#if DEBUG
        _owner = 0;
#endif
        // Read before the release: once released, the next holder owns the field.
        var afterExit = _afterExit;
        if (afterExit is null)
        {
            Volatile.Write(ref _held, 0);
            return;
        }

        _afterExit = null;
        Volatile.Write(ref _held, 0);
        foreach (var action in afterExit)
        {
            action();
        }
    }

    /// <summary>Held until disposed; use with <c>using (gate.EnterScope())</c>.</summary>
    public readonly ref struct Scope(SpinGate gate)
    {
        public void Dispose() => gate.Exit();
    }
}
