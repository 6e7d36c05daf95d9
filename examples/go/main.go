// Command keystore-maint-client starts a keystore-maint maintenance run from Go and steers it
// through Temporal, as docs/contract.md describes:
//
//  1. starts keyStoreMaintenance under the store's canonical workflow id, conflict policy FAIL;
//  2. checks that a second start is refused (the per-store lock);
//  3. queries status until the store is offline (IN_WINDOW);
//  4. sends an extendWindow without a duration and expects UpdateRejected;
//  5. ends the window with endWindowNow;
//  6. waits for the result and expects COMPLETED.
//
// Settings come from the environment: TEMPORAL_ADDRESS (default localhost:7233),
// TEMPORAL_NAMESPACE (default "default"), KEYSTORE_MAINT_TASK_QUEUE (default
// keystore-maintenance), STORE_ID and AWS_REGION (required). It exits 0 when everything went as
// expected, 1 otherwise.
//
//	STORE_ID=cks-1234567890abcdef0 AWS_REGION=us-east-1 go run .
package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
)

const (
	workflowType = "keyStoreMaintenance"
	by           = "go-example@example.com"
)

// MaintenanceRequest is the workflow's input (schema/maintenance-request.schema.json). A nil
// pointer is sent as null, which the workflow treats as absent.
type MaintenanceRequest struct {
	CustomKeyStoreID string  `json:"customKeyStoreId"`
	Region           *string `json:"region"`
	Window           Window  `json:"window"`
	Reason           string  `json:"reason"`
	RequestedBy      string  `json:"requestedBy"`
	Ticket           *string `json:"ticket"`
	DryRun           *bool   `json:"dryRun"`
}

// Window: exactly one of Duration and Until.
type Window struct {
	Duration *string `json:"duration"`
	Until    *string `json:"until"`
}

// MaintenanceStatus holds the members of the status query's answer (and of the result) that this
// program reads; schema/maintenance-result.schema.json has them all.
type MaintenanceStatus struct {
	WorkflowID string `json:"workflowId"`
	Phase      string `json:"phase"`
	Outcome    string `json:"outcome"`
	Message    string `json:"message"`
	Window     struct {
		EndsAt string `json:"endsAt"`
	} `json:"window"`
	Store struct {
		LastObservedState   string `json:"lastObservedState"`
		ConnectionErrorCode string `json:"connectionErrorCode"`
	} `json:"store"`
	TrafficRestored bool `json:"trafficRestored"`
}

// WindowAnswer is the answer of extendWindow and endWindowNow.
type WindowAnswer struct {
	WindowEndsAt string `json:"windowEndsAt"`
}

func main() {
	if err := run(); err != nil {
		log.Printf("FAILED: %v", err)
		os.Exit(1)
	}
	log.Print("OK: every step went as expected")
}

func env(name, fallback string) string {
	if value := os.Getenv(name); value != "" {
		return value
	}
	return fallback
}

func run() error {
	storeID := os.Getenv("STORE_ID")
	region := os.Getenv("AWS_REGION")
	if storeID == "" || region == "" {
		return errors.New("set STORE_ID (cks-…) and AWS_REGION")
	}
	taskQueue := env("KEYSTORE_MAINT_TASK_QUEUE", "keystore-maintenance")
	c, err := client.Dial(client.Options{
		HostPort:  env("TEMPORAL_ADDRESS", "localhost:7233"),
		Namespace: env("TEMPORAL_NAMESPACE", "default"),
	})
	if err != nil {
		return fmt.Errorf("connecting to Temporal: %w", err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	// 1. Start under the canonical id: one run per store.
	workflowID := fmt.Sprintf("keystore-maint/%s/%s", region, storeID)
	duration := "10m"
	ticket := "CHG-1234"
	request := MaintenanceRequest{
		CustomKeyStoreID: storeID,
		Region:           &region,
		Window:           Window{Duration: &duration}, // Until stays nil: sent as null, i.e. absent
		Reason:           "rotate the XKS proxy TLS certificate",
		RequestedBy:      by,
		Ticket:           &ticket,
	}
	options := client.StartWorkflowOptions{
		ID:                       workflowID,
		TaskQueue:                taskQueue,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
		// Without this, ExecuteWorkflow returns the run that is already going instead of an error,
		// and this request is silently dropped.
		WorkflowExecutionErrorWhenAlreadyStarted: true,
	}
	run, err := c.ExecuteWorkflow(ctx, options, workflowType, request)
	var alreadyStarted *serviceerror.WorkflowExecutionAlreadyStarted
	if errors.As(err, &alreadyStarted) {
		return fmt.Errorf("%s already has a run (%s): wait for it or abort it", storeID, alreadyStarted.RunId)
	}
	if err != nil {
		return fmt.Errorf("starting: %w", err)
	}
	log.Printf("started %s run %s", run.GetID(), run.GetRunID())

	// 2. The lock: a second start of the same store is refused.
	_, err = c.ExecuteWorkflow(ctx, options, workflowType, request)
	if !errors.As(err, &alreadyStarted) {
		return fmt.Errorf("a second start was not refused as already started: %v", err)
	}
	log.Printf("second start refused: %v", err)

	// 3. The status query, until the store is offline.
	status, err := waitForPhase(ctx, c, workflowID, "IN_WINDOW")
	if err != nil {
		return err
	}
	log.Printf("phase %s, window ends at %s", status.Phase, status.Window.EndsAt)

	// 4. An update the run refuses: failure type UpdateRejected, with the reason in its message.
	var ignored WindowAnswer
	err = update(ctx, c, workflowID, "extendWindow", map[string]string{"by": by}, &ignored)
	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) || appErr.Type() != "UpdateRejected" {
		return fmt.Errorf("extendWindow without a duration was not refused with UpdateRejected: %v", err)
	}
	log.Printf("extendWindow refused as expected: %s", appErr.Message())

	// 5. End the window now: the run reconnects the store, verifies it and restores traffic.
	var answer WindowAnswer
	if err := update(ctx, c, workflowID, "endWindowNow", map[string]string{"by": by}, &answer); err != nil {
		return fmt.Errorf("endWindowNow: %w", err)
	}
	log.Printf("window ended at %s", answer.WindowEndsAt)

	// 6. The result. FAILED and NEEDS_ATTENTION fail the workflow: the result is the failure's details.
	var result MaintenanceStatus
	err = run.Get(ctx, &result)
	if errors.As(err, &appErr) {
		switch appErr.Type() {
		case "MaintenanceFailed", "NeedsAttention":
			if detailsErr := appErr.Details(&result); detailsErr != nil {
				return fmt.Errorf("%s, and its details could not be read: %v", appErr.Type(), detailsErr)
			}
			return fmt.Errorf("run ended %s (store %s): %s", result.Outcome, result.Store.LastObservedState, result.Message)
		case "InvalidMaintenanceRequest":
			var details struct {
				Problems []string `json:"problems"`
			}
			_ = appErr.Details(&details)
			return fmt.Errorf("the request was refused: %v", details.Problems)
		default:
			return fmt.Errorf("run failed with %s: %s", appErr.Type(), appErr.Message())
		}
	}
	if err != nil {
		return fmt.Errorf("waiting for the result: %w", err)
	}
	if result.Outcome != "COMPLETED" || !result.TrafficRestored {
		return fmt.Errorf("run ended %s: %s", result.Outcome, result.Message)
	}
	log.Printf("run ended %s: %s", result.Outcome, result.Message)
	return nil
}

// update sends an update and waits for its answer; a refusal is a *temporal.ApplicationError.
func update(ctx context.Context, c client.Client, workflowID, name string, arg, answer any) error {
	handle, err := c.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID:   workflowID,
		UpdateName:   name,
		Args:         []any{arg},
		WaitForStage: client.WorkflowUpdateStageCompleted,
	})
	if err != nil {
		return err
	}
	return handle.Get(ctx, answer)
}

// waitForPhase runs the status query until the run is in phase (or has ended, which is an error).
func waitForPhase(ctx context.Context, c client.Client, workflowID, phase string) (MaintenanceStatus, error) {
	var status MaintenanceStatus
	deadline := time.Now().Add(5 * time.Minute)
	for time.Now().Before(deadline) {
		value, err := c.QueryWorkflow(ctx, workflowID, "", "status")
		if err != nil {
			return status, fmt.Errorf("status query: %w", err)
		}
		if err := value.Get(&status); err != nil {
			return status, fmt.Errorf("reading the status: %w", err)
		}
		if status.Phase == phase {
			return status, nil
		}
		if status.Outcome != "" {
			return status, fmt.Errorf("run ended %s before %s: %s", status.Outcome, phase, status.Message)
		}
		time.Sleep(time.Second)
	}
	return status, fmt.Errorf("run still in %s after 5 minutes, waiting for %s", status.Phase, phase)
}
