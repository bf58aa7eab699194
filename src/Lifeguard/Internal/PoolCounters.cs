namespace Lifeguard;

/// <summary>
/// A pool's running totals for its status, guarded by the pool's lock. The checkout count is not among them: it is
/// derived from the workers' uses, so a checkout bumps nothing here.
/// </summary>
internal sealed class PoolCounters
{
    public long Timeouts;
    public long Rejections;
    public long Starts;
    public long Restarts;
    public long Deaths;
    public long StartFailures;

    /// <summary>Uses of workers no longer listed; with the listed workers' uses, the checkout count.</summary>
    public long DepartedUses;

    /// <summary>Workers gone for a reason other than dismissal, not yet replaced: their replacements count as restarts.</summary>
    public int ReplacementsOwed;
}
