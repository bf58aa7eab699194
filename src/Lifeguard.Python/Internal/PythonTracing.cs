using System.Diagnostics;

namespace Lifeguard.Python;

/// <summary>
/// The spans of <c>Lifeguard.Python</c> on the core's <c>Lifeguard</c> source (docs/hosting.md, "Tracing"): a call
/// (<c>module.function</c>), a worker start (<c>lifeguard.worker.start</c>), and the spans Python opened with
/// <c>lifeguard.span</c> inside a call. Stateless and thread-safe.
/// </summary>
internal static class PythonTracing
{
    public const string WorkerStartSpan = "lifeguard.worker.start";
    public const string ProcessPidTag = "process.pid";
    public const string RuntimeVersionTag = "process.runtime.version";
    public const string ModuleTag = "lifeguard.python.module";
    public const string FunctionTag = "lifeguard.python.function";
    public const string OutcomeTag = "lifeguard.python.outcome";
    public const string SpansDroppedTag = "lifeguard.python.spans_dropped";
    public const string AttributesDroppedTag = "lifeguard.python.attributes_dropped";
    public const string SpansInvalidTag = "lifeguard.python.spans_invalid";
    public const string UnfinishedTag = "lifeguard.python.unfinished";
    public const string StreamItemsTag = "lifeguard.python.stream.items";

    public static ActivitySource Source => LifeguardTracing.Source;

    /// <summary>Ends a failed call's span: its outcome, <c>error.type</c> (Python's type for a Python error) and status.</summary>
    public static void SetCallFailure(Activity activity, Exception error)
    {
        string outcome = error switch
        {
            PythonException => "error",
            OperationCanceledException => "cancelled",
            PythonCallTimeoutException => "timeout",
            PythonWorkerCrashedException => "crashed",
            PythonProtocolException => "protocol_error",
            PythonSerializationException => "serialization_error",
            PythonModuleNotAllowedException => "not_allowed",
            PoolStoppedException => "stopped",
            _ => "failed",
        };
        activity.SetTag(OutcomeTag, outcome);
        activity.SetTag(LifeguardTracing.ErrorTypeTag, error is PythonException python ? python.PythonType : error.GetType().FullName);
        activity.SetStatus(ActivityStatusCode.Error, error.Message);
    }
}

/// <summary>
/// The span state of one traced call whose worker collects spans: its activity, the spans recorded under it, and
/// what was dropped (by Python, over its limits) or refused (by the host, malformed). Used by the call's own flow only.
/// </summary>
internal sealed class CallTrace(Activity activity)
{
    public Activity Activity { get; } = activity;

    /// <summary>Spans taken from the worker's span frames (sampled or not); at most <see cref="SpanImporter.MaxSpans"/>.</summary>
    public int Recorded { get; set; }

    public long SpansDropped { get; set; }

    public long AttributesDropped { get; set; }

    public long SpansInvalid { get; set; }

    /// <summary>Records the counts on the call's span, each only when it is not zero.</summary>
    public void Report()
    {
        if (SpansDropped > 0)
        {
            Activity.SetTag(PythonTracing.SpansDroppedTag, SpansDropped);
        }

        if (AttributesDropped > 0)
        {
            Activity.SetTag(PythonTracing.AttributesDroppedTag, AttributesDropped);
        }

        if (SpansInvalid > 0)
        {
            Activity.SetTag(PythonTracing.SpansInvalidTag, SpansInvalid);
        }
    }
}
