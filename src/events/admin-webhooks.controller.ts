import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Query } from '@nestjs/common';
import {
  ApiAcceptedResponse,
  ApiCreatedResponse,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiOperation,
  ApiResponse,
  ApiTags,
} from '@nestjs/swagger';

import { AdminAuth } from '#src/auth/guards.js';
import { AppError } from '#src/common/errors/problems.js';
import { ProblemResponse } from '#src/common/openapi/problem.schema.js';
import {
  CreatedWebhookResponse,
  CreateWebhookDto,
  DeliveryPageResponse,
  DeliveryQuery,
  ReplayDto,
  ReplayResponse,
  RotatedSecretResponse,
  TestEventResponse,
  UpdateWebhookDto,
  WebhookResponse,
} from '#src/events/dto/webhooks.dto.js';
import { WebhookDeliveriesService } from '#src/events/webhook-deliveries.service.js';
import type { WebhookEndpointEntity } from '#src/events/webhook-endpoint.entity.js';
import { WebhookEndpointsService } from '#src/events/webhook-endpoints.service.js';

@ApiTags('admin: webhooks')
@AdminAuth()
@Controller('api/admin/webhooks')
export class AdminWebhooksController {
  constructor(
    private readonly endpoints: WebhookEndpointsService,
    private readonly deliveries: WebhookDeliveriesService,
  ) {}

  @Post()
  @ApiOperation({
    summary: 'Create an endpoint; the answer carries its secret, shown only this once',
  })
  @ApiCreatedResponse({ type: CreatedWebhookResponse })
  @ApiResponse({
    status: 400,
    description: 'Bad URL (including private addresses), unknown event types, bad headers',
    type: ProblemResponse,
  })
  async create(@Body() dto: CreateWebhookDto): Promise<CreatedWebhookResponse> {
    const endpoint = await this.endpoints.create(dto);

    return { ...toResponse(endpoint), secret: endpoint.secret };
  }

  @Get()
  @ApiOperation({ summary: 'List endpoints' })
  @ApiOkResponse({ type: [WebhookResponse] })
  async list(): Promise<WebhookResponse[]> {
    return (await this.endpoints.list()).map(toResponse);
  }

  @Get(':id')
  @ApiOperation({ summary: 'Read an endpoint' })
  @ApiOkResponse({ type: WebhookResponse })
  @ApiResponse({ status: 404, type: ProblemResponse })
  async get(@Param('id') id: string): Promise<WebhookResponse> {
    return toResponse(await this.endpoints.get(id));
  }

  @Patch(':id')
  @ApiOperation({ summary: 'Change an endpoint; `enabled` disables or enables it' })
  @ApiOkResponse({ type: WebhookResponse })
  async update(@Param('id') id: string, @Body() dto: UpdateWebhookDto): Promise<WebhookResponse> {
    return toResponse(await this.endpoints.update(id, dto));
  }

  @Delete(':id')
  @HttpCode(204)
  @ApiOperation({ summary: 'Delete an endpoint with its delivery log' })
  @ApiNoContentResponse()
  async delete(@Param('id') id: string): Promise<void> {
    await this.endpoints.delete(id);
  }

  @Post(':id/secret')
  @HttpCode(200)
  @ApiOperation({
    summary:
      'Rotate the secret; both are signed with until the overlap ends (WEBHOOK_SECRET_OVERLAP_SECONDS)',
  })
  @ApiOkResponse({ type: RotatedSecretResponse })
  async rotate(@Param('id') id: string): Promise<RotatedSecretResponse> {
    const rotated = await this.endpoints.rotateSecret(id);

    return {
      secret: rotated.secret,
      previous_secret_expires_at: rotated.previousSecretExpiresAt.toISOString(),
    };
  }

  @Post(':id/test')
  @HttpCode(202)
  @ApiOperation({ summary: 'Send a `webhook.test` event to this endpoint now' })
  @ApiAcceptedResponse({ type: TestEventResponse })
  async test(@Param('id') id: string): Promise<TestEventResponse> {
    const sent = await this.endpoints.sendTest(id);

    return { event_id: sent.eventId, delivery_id: sent.deliveryId };
  }

  @Get(':id/deliveries')
  @ApiOperation({ summary: 'The delivery log, newest first, each delivery with its attempts' })
  @ApiOkResponse({ type: DeliveryPageResponse })
  async log(@Param('id') id: string, @Query() query: DeliveryQuery): Promise<DeliveryPageResponse> {
    const endpoint = await this.endpoints.get(id);
    const page = await this.deliveries.page(endpoint.id, query);

    return {
      deliveries: page.items.map(({ delivery, attempts }) => ({
        id: delivery.id,
        event_id: delivery.eventId,
        event_type: delivery.eventType,
        status: delivery.status,
        attempts: delivery.attempts,
        ...(delivery.status === 'pending'
          ? { next_attempt_at: delivery.nextAttemptAt.toISOString() }
          : {}),
        created_at: delivery.createdAt.toISOString(),
        log: attempts.map((attempt) => ({
          attempt: attempt.attempt,
          started_at: attempt.startedAt.toISOString(),
          duration_ms: attempt.durationMs,
          ...(attempt.statusCode === null ? {} : { status_code: attempt.statusCode }),
          ...(attempt.error === null ? {} : { error: attempt.error }),
          ...(attempt.responseBody === null ? {} : { response_body: attempt.responseBody }),
        })),
      })),
      ...(page.next === undefined ? {} : { next: page.next }),
    };
  }

  @Post(':id/deliveries/:delivery/replay')
  @HttpCode(202)
  @ApiOperation({ summary: 'Send one delivery again' })
  @ApiAcceptedResponse()
  async replayOne(@Param('id') id: string, @Param('delivery') deliveryId: string): Promise<void> {
    const endpoint = await this.endpoints.get(id);
    if (!/^[0-9a-f-]{36}$/i.test(deliveryId)) {
      throw new AppError('not-found', { detail: `no delivery ${deliveryId}` });
    }
    await this.deliveries.replay(endpoint.id, deliveryId);
  }

  @Post(':id/replay')
  @HttpCode(202)
  @ApiOperation({ summary: 'Send again every dead-lettered delivery created in a time range' })
  @ApiAcceptedResponse({ type: ReplayResponse })
  async replayRange(@Param('id') id: string, @Body() dto: ReplayDto): Promise<ReplayResponse> {
    const endpoint = await this.endpoints.get(id);
    const until = dto.until === undefined ? new Date() : new Date(dto.until);

    return { replayed: await this.deliveries.replayDead(endpoint.id, new Date(dto.since), until) };
  }
}

function toResponse(endpoint: WebhookEndpointEntity): WebhookResponse {
  return {
    id: endpoint.id,
    url: endpoint.url,
    events: endpoint.events,
    domains: endpoint.domains,
    ...(endpoint.description === null ? {} : { description: endpoint.description }),
    headers: endpoint.headers,
    ordered: endpoint.ordered,
    max_concurrency: endpoint.maxConcurrency,
    enabled: endpoint.enabled,
    ...(endpoint.disabledReason === null ? {} : { disabled_reason: endpoint.disabledReason }),
    kind: endpoint.kind,
    ...(endpoint.lastSuccessAt === null
      ? {}
      : { last_success_at: endpoint.lastSuccessAt.toISOString() }),
    ...(endpoint.failingSince === null
      ? {}
      : { failing_since: endpoint.failingSince.toISOString() }),
    created_at: endpoint.createdAt.toISOString(),
  };
}
