package api

import (
	"context"

	"connectrpc.com/connect"

	partnersv1 "github.com/kinshiphq/kinship/gen/kinship/partners/v1"
	"github.com/kinshiphq/kinship/gen/kinship/partners/v1/partnersv1connect"
	"github.com/kinshiphq/kinship/internal/validate"
	"github.com/kinshiphq/kinship/services/partners/domain"
)

// Contacts implements ContactsService. Contacts are personal data: logs
// name them by id only.
type Contacts struct{ base }

var _ partnersv1connect.ContactsServiceHandler = (*Contacts)(nil)

// NewContacts returns the contacts API.
func NewContacts(d Deps) *Contacts { return &Contacts{newBase(d)} }

// AddContact stores a contact and, when they consented, the consent.
func (h *Contacts) AddContact(ctx context.Context, req *connect.Request[partnersv1.AddContactRequest]) (*connect.Response[partnersv1.AddContactResponse], error) {
	m := req.Msg
	var errs validate.Errors
	community, err := communityOf(m.GetCommunity())
	errs = append(errs, validate.FieldErrors(err)...)
	now := h.now()
	c, err := domain.NewContact(community, m.GetPartnerId(), domain.ContactInput{Name: m.GetName(), Email: m.GetEmail(), Phone: m.GetPhone(),
		Role: m.GetRole(), Primary: m.GetPrimary()}, newID(), now)
	errs = append(errs, validate.FieldErrors(err)...)
	var consent *domain.ConsentRecord
	if m.GetEmailConsent() {
		rec, err := domain.NewConsentAtAdd(c.ID, m.GetConsentSource(), m.GetPolicyVersion(), now)
		errs = append(errs, validate.FieldErrors(err)...)
		consent = &rec
	}
	if err := errs.Err(); err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	if err := h.store.CreateContact(ctx, c, consent); err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	c.EmailConsent = consent != nil
	h.logger.InfoContext(ctx, "contact added", "community", community, "partner_id", c.PartnerID, "contact_id", c.ID)
	return connect.NewResponse(&partnersv1.AddContactResponse{Contact: contactToProto(c)}), nil
}

// GetContact returns one contact and its consent ledger.
func (h *Contacts) GetContact(ctx context.Context, req *connect.Request[partnersv1.GetContactRequest]) (*connect.Response[partnersv1.GetContactResponse], error) {
	community, id, err := target(req.Msg.GetCommunity(), "id", req.Msg.GetId())
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	c, err := h.store.GetContact(ctx, community, id)
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	ledger, err := h.store.ContactConsents(ctx, community, id)
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	res := &partnersv1.GetContactResponse{Contact: contactToProto(c)}
	for _, r := range ledger {
		res.Consents = append(res.Consents, consentToProto(r))
	}
	return connect.NewResponse(res), nil
}

// ListContacts returns a partner's contacts, the primary one first.
func (h *Contacts) ListContacts(ctx context.Context, req *connect.Request[partnersv1.ListContactsRequest]) (*connect.Response[partnersv1.ListContactsResponse], error) {
	community, partnerID, err := target(req.Msg.GetCommunity(), "partner_id", req.Msg.GetPartnerId())
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	contacts, err := h.store.ListContacts(ctx, community, partnerID)
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	res := &partnersv1.ListContactsResponse{}
	for _, c := range contacts {
		res.Contacts = append(res.Contacts, contactToProto(c))
	}
	return connect.NewResponse(res), nil
}

// UpdateContact changes the masked fields of a contact.
func (h *Contacts) UpdateContact(ctx context.Context, req *connect.Request[partnersv1.UpdateContactRequest]) (*connect.Response[partnersv1.UpdateContactResponse], error) {
	community, id, err := target(req.Msg.GetCommunity(), "id", req.Msg.GetId())
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	u := req.Msg.GetContact()
	update := domain.ContactInput{Name: u.GetName(), Email: u.GetEmail(), Phone: u.GetPhone(), Role: u.GetRole(), Primary: u.GetPrimary()}
	c, err := h.store.UpdateContact(ctx, community, id, func(current domain.Contact) (domain.Contact, error) {
		if current.Erased {
			return current, domain.ErrContactErased
		}
		merged, err := domain.MergeContact(current.Input(), update, req.Msg.GetUpdateMask().GetPaths())
		if err != nil {
			return current, err
		}
		return current.Update(merged)
	})
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	h.logger.InfoContext(ctx, "contact updated", "community", community, "contact_id", id, "fields", req.Msg.GetUpdateMask().GetPaths())
	return connect.NewResponse(&partnersv1.UpdateContactResponse{Contact: contactToProto(c)}), nil
}

// RecordContactConsent appends a grant or withdrawal to the ledger.
func (h *Contacts) RecordContactConsent(ctx context.Context, req *connect.Request[partnersv1.RecordContactConsentRequest]) (*connect.Response[partnersv1.RecordContactConsentResponse], error) {
	community, id, err := target(req.Msg.GetCommunity(), "contact_id", req.Msg.GetContactId())
	rec, rerr := domain.NewConsentRecord(id, req.Msg.GetGranted(), req.Msg.GetSource(), req.Msg.GetPolicyVersion(), h.now())
	if errs := append(validate.FieldErrors(err), validate.FieldErrors(rerr)...); len(errs) > 0 {
		return nil, h.toConnect(ctx, req.Spec(), validate.Errors(errs))
	}
	c, err := h.store.RecordContactConsent(ctx, community, rec)
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	h.logger.InfoContext(ctx, "contact consent recorded", "community", community, "contact_id", id, "granted", rec.Granted)
	return connect.NewResponse(&partnersv1.RecordContactConsentResponse{Contact: contactToProto(c)}), nil
}

// EraseContact removes a contact's personal data, audited.
func (h *Contacts) EraseContact(ctx context.Context, req *connect.Request[partnersv1.EraseContactRequest]) (*connect.Response[partnersv1.EraseContactResponse], error) {
	community, id, err := target(req.Msg.GetCommunity(), "contact_id", req.Msg.GetContactId())
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	c, err := h.store.EraseContact(ctx, community, id, h.now())
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	h.logger.InfoContext(ctx, "contact erased", "community", community, "contact_id", id)
	return connect.NewResponse(&partnersv1.EraseContactResponse{Contact: contactToProto(c)}), nil
}
