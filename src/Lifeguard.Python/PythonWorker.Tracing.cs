namespace Lifeguard.Python;

/// <summary>Tracing: the spans Python sends back with a call (docs/protocol.md, "Spans").</summary>
public sealed partial class PythonWorker
{
    /// <summary>The span state of the call in flight, when it asked Python for spans; set and cleared by the call.</summary>
    private CallTrace? _trace;

    /// <summary>Whether the worker's hello announced the <c>spans</c> feature (protocol 2).</summary>
    private bool CollectsSpans { get; set; }

    /// <summary>
    /// Takes a spans frame of the call in flight. Span data is advisory: whatever is wrong with it is skipped and
    /// counted on the call's span, and the call goes on. A frame the call did not ask for is dropped and logged.
    /// </summary>
    private void RecordSpans(Frame frame, string name)
    {
        if (_trace is not { } trace)
        {
            PythonLog.SpansIgnored(_logger, ProcessId, name);
            return;
        }

        try
        {
            SpanImporter.Import(frame.Json, trace);
        }
        catch (Exception e)
        {
            // A listener's callback threw as the spans were started or stopped: the call's outcome is not tracing's.
            trace.SpansInvalid++;
            PythonLog.SpansFailed(_logger, ProcessId, name, e);
        }
    }
}
