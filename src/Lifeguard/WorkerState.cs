namespace Lifeguard;

/// <summary>The state of one worker in a status snapshot.</summary>
public enum WorkerState
{
    /// <summary>In the idle set, ready to be checked out.</summary>
    Idle,

    /// <summary>Checked out by a lease.</summary>
    Busy,
}
