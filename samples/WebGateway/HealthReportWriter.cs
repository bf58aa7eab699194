using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Lifeguard.Samples.WebGateway;

/// <summary>Writes a health report as JSON: the overall status, then each check with its data (a pool's status counts). Stateless.</summary>
public static class HealthReportWriter
{
    /// <summary>A <c>HealthCheckOptions.ResponseWriter</c>.</summary>
    public static Task WriteAsync(HttpContext context, HealthReport report)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(report);
        var body = new
        {
            Status = report.Status.ToString(),
            report.TotalDuration,
            Checks = report.Entries.Select(e => new
            {
                Name = e.Key,
                Status = e.Value.Status.ToString(),
                e.Value.Description,
                e.Value.Tags,
                e.Value.Data,
            }),
        };
        return context.Response.WriteAsJsonAsync(body, context.RequestAborted);
    }
}
