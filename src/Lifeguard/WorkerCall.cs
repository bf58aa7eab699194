namespace Lifeguard;

/// <summary>The call a worker is running, as it reports it (<see cref="IWorkerStatusProvider.GetCurrentCall"/>).</summary>
/// <param name="Name">What runs, e.g. <c>module.function</c> for a Python worker.</param>
/// <param name="Elapsed">How long it has been running.</param>
public sealed record WorkerCall(string Name, TimeSpan Elapsed);
