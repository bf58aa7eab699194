namespace Lifeguard;

/// <summary>
/// Keeps a <see cref="TimeProvider"/> that runs a timer callback synchronously, inside the <c>Change</c> call that made
/// it due, from re-entering the pool's lock. Pools arm timers while they hold their state's <see cref="SpinGate"/>,
/// which is not reentrant, and <c>FakeTimeProvider</c> (the standard test clock) fires a timer armed with a due time of
/// zero, or one already past, before <c>Change</c> returns; any provider may. Such a callback is handed to the gate and
/// runs on the same thread just after the gate is released, so it sees the transition that armed it completed, and a
/// test driving a fake clock sees it done when that transition's call returns. A system timer never runs a callback
/// inside <c>Change</c>, so in production this costs one thread-local read per timer callback. Thread-safe (the state
/// is per thread).
/// </summary>
internal static class TimerCalls
{
    /// <summary>The gate this thread holds while it is inside <see cref="ChangeLocked"/>; null elsewhere.</summary>
    [ThreadStatic]
    private static SpinGate? _holding;

    /// <summary>Creates a timer whose callback, if run inside <see cref="ChangeLocked"/>, waits for the gate's release.</summary>
    public static ITimer Create(TimeProvider time, TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
        => time.CreateTimer(static s => ((Callback)s!).Invoke(), new Callback(callback, state), dueTime, period);

    /// <summary><see cref="ITimer.Change"/> by a thread that holds <paramref name="gate"/>.</summary>
    public static void ChangeLocked(ITimer timer, TimeSpan dueTime, TimeSpan period, SpinGate gate)
    {
        var outer = _holding;
        _holding = gate;
        try
        {
            timer.Change(dueTime, period);
        }
        finally
        {
            _holding = outer;
        }
    }

    private sealed class Callback
    {
        private readonly TimerCallback _callback;
        private readonly object? _state;
        private readonly Action _run;

        public Callback(TimerCallback callback, object? state)
        {
            _callback = callback;
            _state = state;
            _run = Run;
        }

        public void Invoke()
        {
            if (_holding is { } gate)
            {
                gate.RunAfterExit(_run);
                return;
            }

            Run();
        }

        private void Run() => _callback(_state);
    }
}
