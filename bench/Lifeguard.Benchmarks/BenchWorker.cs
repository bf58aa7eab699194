namespace Lifeguard.Benchmarks;

/// <summary>The pooled resource in every benchmark: a tiny object with a little state to touch or churn.</summary>
public sealed class BenchWorker
{
    private long _state = 1;

    /// <summary>The smallest possible use of the worker, so the leased object is really read.</summary>
    public long Touch() => ++_state;

    /// <summary>A short dependent chain of arithmetic (see <see cref="Work.SpinIterations"/>), on this worker's state.</summary>
    public long Spin()
    {
        _state = Work.Spin(_state, Work.SpinIterations);
        return _state;
    }
}
