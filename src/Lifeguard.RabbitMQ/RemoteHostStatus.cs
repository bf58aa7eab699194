namespace Lifeguard.RabbitMQ;

/// <summary>One host serving a remote pool, as its last status message told (<see cref="RemotePythonPool.Hosts"/>).</summary>
/// <param name="Host">The host's name (<see cref="RabbitMqServeOptions.HostName"/>).</param>
/// <param name="ProcessId">The process id of the host on its machine.</param>
/// <param name="Capacity">Its local pool's capacity, <c>Size + MaxOverflow</c>: the most calls it runs at once.</param>
/// <param name="Busy">The calls and streams it ran when it told.</param>
/// <param name="CallsServed">The calls and streams it has answered, failures included.</param>
/// <param name="CallsFailed">The calls and streams among them that failed.</param>
/// <param name="PeakBusy">The most calls and streams it ran at once.</param>
/// <param name="LastSeen">When it told, by the clock of the machine that received it.</param>
/// <param name="Serving">False once it said it stopped.</param>
public sealed record RemoteHostStatus(
    string Host,
    int ProcessId,
    int Capacity,
    int Busy,
    long CallsServed,
    long CallsFailed,
    int PeakBusy,
    DateTimeOffset LastSeen,
    bool Serving);
