namespace Lifeguard;

/// <summary>Which idle worker a checkout receives.</summary>
public enum PoolStrategy
{
    /// <summary>The most recently returned worker (poolboy's default): keeps a hot set of workers busy and lets the rest cool.</summary>
    Lifo,

    /// <summary>The worker that has been idle longest: spreads use evenly across workers.</summary>
    Fifo,
}
