using System.Text.Json;

namespace Lifeguard.Python;

/// <summary>
/// A host function Python code can call during a call with <c>lifeguard.call_host(name, *args)</c>. Its return value
/// is sent back as JSON; an exception it throws is raised in Python as <c>lifeguard.HostError</c>.
/// </summary>
/// <param name="args">The positional arguments Python passed, as JSON.</param>
/// <param name="cancellationToken">Fires when the Python call is cancelled or times out.</param>
public delegate ValueTask<object?> HostCallback(IReadOnlyList<JsonElement> args, CancellationToken cancellationToken);
