namespace Lifeguard;

/// <summary>The outcome of <see cref="IPool.KillWorkerAsync"/>.</summary>
public enum WorkerKillResult
{
    /// <summary>The worker was killed and has left the pool; a replacement follows as for any death.</summary>
    Killed,

    /// <summary>
    /// No live worker has that id: it never existed, has already left the pool (or is being stopped), or is still
    /// starting (a worker has no place in the pool, and no entry in <see cref="PoolStatus.Workers"/>, until its start completes).
    /// </summary>
    NotFound,

    /// <summary>The pool is stopping or stopped; it stops every worker itself.</summary>
    PoolStopped,
}
