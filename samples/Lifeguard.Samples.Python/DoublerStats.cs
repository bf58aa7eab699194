namespace Lifeguard.Samples.Python;

/// <summary>What <c>doubler.stats()</c> returns: the process it ran in and how many numbers that process doubled.</summary>
public sealed record DoublerStats(int Pid, int Doubled);
